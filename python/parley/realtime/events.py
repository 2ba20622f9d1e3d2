"""Which broadcast event names a client may send, per topic kind (issue 20): the one place for that rule.

Database events (``message_created``, ``member_left``, ...) are written by
the triggers in functions/realtime_events.sql and carry Parley's authority.
A client broadcast is relayed as it is, so a client that could name its
broadcast ``message_created`` could forge a message from someone else. So:

* on Parley's topics (``conversation:{id}``, ``call:{id}``, ``user:{id}``) a
  client sends only the event names listed for that kind in
  :data:`CLIENT_EVENTS`; anything else is refused with an error reply;
* on every topic, the names in :data:`SERVER_EVENTS` (everything the
  database or the service itself sends) are reserved and refused.

Other topics (an application's own public channels) carry any other name.
"""

from __future__ import annotations

CLIENT_EVENTS: dict[str, frozenset[str]] = {
    # Typing indicators: {user_id, typing} or whatever the client sends (docs/realtime.md).
    "conversation": frozenset({"typing"}),
    # Call signaling between the participants of a call (WebRTC offer/answer and ICE candidates).
    "call": frozenset({"offer", "answer", "ice_candidate"}),
    # A user's own topic carries only database events: nobody sends there.
    "user": frozenset(),
}
"""Client broadcast event names allowed on each kind of Parley topic (``<kind>:<id>``)."""

SERVER_EVENTS: frozenset[str] = frozenset({
    # conversation:{id} (functions/realtime_events.sql)
    "message_created", "message_edited", "message_deleted", "message_pinned", "reaction_changed", "read",
    "delivered", "member_joined", "member_role_changed", "member_left", "conversation_updated", "support_updated",
    "conversation_deleted",
    # user:{id}
    "conversation_added", "conversation_removed", "inbox_message", "notice_received", "unread_changed",
    "inbox_entry_updated", "support_assigned",
    # call:{id}: what the database says about a call (the calls engineer adds theirs here)
    "call_started", "call_ended", "call_updated", "participant_joined", "participant_left",
    # the service's own frames
    "system", "presence_state", "presence_diff", "phx_reply", "phx_error", "phx_close", "phx_join", "phx_leave",
    "heartbeat", "access_token",
})  # fmt: skip
"""Event names only the database or the service sends: reserved on every topic."""


def topic_kind(name: str) -> str | None:
    """The Parley topic kind of a topic name without ``realtime:`` (``conversation``, ``call``, ``user``), else None."""
    kind, separator, _ = name.partition(":")
    return kind if separator and kind in CLIENT_EVENTS else None


def client_event_refusal(name: str, event: object) -> str | None:
    """Why a client may not broadcast ``event`` on topic ``name``; None when it may."""
    if not isinstance(event, str) or not event:
        return "a client broadcast needs an event name"
    if event in SERVER_EVENTS:
        return f"{event!r} is a server event: clients cannot send it"
    kind = topic_kind(name)
    if kind is not None and event not in CLIENT_EVENTS[kind]:
        allowed = ", ".join(sorted(CLIENT_EVENTS[kind])) or "nothing"
        return f"{event!r} is not a client event on {kind} topics (clients send: {allowed})"
    return None
