"""Profiles and privacy settings (issue 3; seed 000: one chat identity per account, display info, privacy)."""

from __future__ import annotations

from identity_support import as_owner, organization_with, refusal
from parley.db import Api


def test_signup_creates_one_profile_and_default_privacy_settings(api: Api, database):
    """Seed 000: users chat as themselves, one identity per account; metadata only supplies the display name."""
    user = database.create_user(
        "newbie", metadata={"display_name": "New Bee", "username": "admin", "role": "service_role"}
    )
    [profile] = api.query(
        "select username, display_name, app_roles, time_zone from profiles where id = %s", (user.id,), token=user.token
    )
    assert profile["display_name"] == "New Bee"
    assert profile["username"].startswith("newbie_")  # from the email, never the metadata's "admin"
    assert (profile["app_roles"], profile["time_zone"]) == ([], "UTC")
    [settings] = api.query("select * from privacy_settings", token=user.token)
    assert (settings["who_can_message"], settings["who_can_call"]) == ("everyone", "connections")
    assert settings["show_online_status"] and settings["send_read_receipts"]


def test_default_usernames_are_unique_case_insensitively(api: Api, database):
    as_owner(
        database,
        "insert into auth.users (id, email) values (gen_random_uuid(), 'Same@one.test'), "
        "(gen_random_uuid(), 'same@two.test'), (gen_random_uuid(), 'SAME@three.test')",
    )
    rows = as_owner(database, "select lower(username) from profiles where lower(username) like 'same%'")
    assert len(rows) == 3 and len({row[0] for row in rows}) == 3


def test_users_edit_their_own_profile_with_validation(api: Api, database):
    user, other = database.create_user("editor"), database.create_user("taken_one")
    [row] = api.query(
        "update profiles set display_name = 'Ed', bio = 'hi', time_zone = 'Europe/Paris', "
        "username = 'Editor_1' where id = %s returning username, display_name",
        (user.id,),
        token=user.token,
        method="PATCH",
    )
    assert row == {"username": "Editor_1", "display_name": "Ed"}
    taken = refusal(
        lambda: api.query(
            "update profiles set username = 'EDITOR_1' where id = %s", (other.id,), token=other.token, method="PATCH"
        )
    )
    assert (taken.status, taken.code, taken.details) == (409, "PT409", "username_taken")
    for column, value, reason in (
        ("username", "a b", "invalid_username"),
        ("time_zone", "Mars/Base", "invalid_time_zone"),
        ("avatar_url", "javascript:x", "invalid_avatar_url"),
        ("display_name", " ", "invalid_display_name"),
        ("bio", "x" * 501, "bio_too_long"),
        ("locale", "english!", "invalid_locale"),
    ):
        error = refusal(
            lambda column=column, value=value: api.query(
                f"update profiles set {column} = %s where id = %s", (value, user.id), token=user.token, method="PATCH"
            )
        )
        assert (error.status, error.code, error.details) == (400, "P0001", reason)


def test_users_cannot_edit_others_profiles_or_their_app_roles(api: Api, database):
    user, other = database.create_user("p_self"), database.create_user("p_other")
    assert (
        api.query(
            "update profiles set display_name = 'pwned' where id = %s returning id",
            (other.id,),
            token=user.token,
            method="PATCH",
        )
        == []
    )
    roles = refusal(
        lambda: api.query(
            "update profiles set app_roles = '{tutor}' where id = %s", (user.id,), token=user.token, method="PATCH"
        )
    )
    assert roles.code == "42501"


def test_profile_rows_are_visible_to_co_members_and_connections_only(api: Api, database):
    owner, member, stranger = (database.create_user(n) for n in ("v_owner", "v_member", "v_stranger"))
    organization_with(api, database, owner, member=member)
    visible = {row["id"] for row in api.query("select id::text from profiles", token=member.token)}
    assert visible == {str(owner.id), str(member.id)}
    assert api.query("select id from profiles where id = %s", (owner.id,), token=stranger.token) == []
    api.rpc("request_connection", {"user_id": str(owner.id)}, token=stranger.token)
    assert len(api.query("select id from profiles where id = %s", (owner.id,), token=stranger.token)) == 1
    anonymous = refusal(lambda: api.query("select id from profiles"))
    assert (anonymous.status, anonymous.code) == (401, "42501")


def test_display_info_by_id_or_username(api: Api, database):
    """Seed 000's get_user_display_info: name and avatar of any user, for chat headers."""
    user, viewer = database.create_user("shown"), database.create_user("viewer")
    info = api.rpc("get_user_display_info", {"user_id": str(user.id)}, token=viewer.token)
    assert (info["id"], info["display_name"]) == (str(user.id), "shown")
    found = api.rpc("find_user_by_username", {"username": info["username"].upper()}, token=viewer.token)
    assert found == info
    missing = refusal(
        lambda: api.rpc(
            "get_user_display_info", {"user_id": "00000000-0000-4000-8000-000000000000"}, token=viewer.token
        )
    )
    assert (missing.status, missing.details) == (404, "user_not_found")
    anonymous = refusal(lambda: api.rpc("get_user_display_info", {"user_id": str(user.id)}))
    assert anonymous.status == 401


def test_privacy_settings_are_private_and_validated(api: Api, database):
    user, other = database.create_user("priv"), database.create_user("priv_other")
    [row] = api.query(
        "update privacy_settings set who_can_message = 'nobody' where user_id = %s returning who_can_message::text",
        (user.id,),
        token=user.token,
        method="PATCH",
    )
    assert row == {"who_can_message": "nobody"}
    assert api.query("select * from privacy_settings where user_id = %s", (user.id,), token=other.token) == []
    assert (
        api.query(
            "update privacy_settings set who_can_call = 'everyone' where user_id = %s returning 1",
            (user.id,),
            token=other.token,
            method="PATCH",
        )
        == []
    )
    bad = refusal(
        lambda: api.query(
            "update privacy_settings set who_can_call = 'friends' where user_id = %s",
            (user.id,),
            token=user.token,
            method="PATCH",
        )
    )
    assert (bad.status, bad.code) == (400, "22P02")
