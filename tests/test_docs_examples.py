"""The examples of docs/api.md and docs/realtime.md are checked and run, so the docs cannot drift (docs/testing.md).

docs/api.md: every ```js `supabase.rpc('name', {...})` names a public
function whose signature takes exactly those argument names (resolved as
PostgREST resolves them), every public function is documented, every
`supabase.from('t')` names a public table or view and existing columns, and
each call whose arguments the example spells out (literals and the bound
names listed in BINDINGS) is executed through parley.db.Api as alice against
the dev seed: a refusal with a reason is fine (the call reached the
function's checks); an undefined function, column or type, bad input syntax
or a server error fails. ```python examples run as they are, with `api`,
`token` and the bound names in scope.

docs/realtime.md: each ```js example runs under node with supabase-js
against `parley realtime`, subscribed as alice, and must receive the
conversation's events.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from docs_examples_support import UNBOUND, RpcCall, blocks, rpc_calls, table_calls
from parley import stack, tokens
from parley.db import ApiError
from realtime_js_support import JS_DIR, node_ready

ROOT = Path(__file__).resolve().parents[1]
API_DOC = ROOT / "docs" / "api.md"
REALTIME_DOC = ROOT / "docs" / "realtime.md"

BROKEN = {"42883", "42703", "42P01", "22P02", "42804", "42P18", "PGRST202", "XX000", "42601"}
"""Errors that mean the example itself is wrong (or the function broke), not a refusal by design."""

HOW_TO_FIX = (
    "\nHow to fix: make the example call what the database has (function and argument names as in "
    "`\\df public.<name>`), or bind the variable it uses in tests/test_docs_examples.py BINDINGS; "
    "see docs/testing.md, 'Docs examples'."
)


@pytest.fixture(scope="module")
def seeded(database, api):
    """The dev seed, plus a direct conversation of alice and bob with one message in it."""
    stack.apply_seed(database.url)
    alice = tokens.mint(database.jwt_secret, user_id=stack.DEMO_USERS["alice"][0], email="alice@example.com")
    organization = stack.DEMO_ORGANIZATION[0]
    bob_id = stack.DEMO_USERS["bob"][0]
    conversation = api.rpc("get_or_create_direct_conversation",
                           {"organization_id": organization, "other_user_id": bob_id}, token=alice)  # fmt: skip
    message = api.rpc("send_message", {"conversation_id": conversation["id"], "body": "hello from the seed"},
                      token=alice)  # fmt: skip
    return {"alice": alice, "conversation": conversation["id"], "message": message["id"], "bob": bob_id}


def bindings(seeded) -> dict[str, object]:
    """Names the examples use for ids, bound to the seed (extend this table when an example needs another)."""
    organization = stack.DEMO_ORGANIZATION[0]
    persona = stack.DEMO_PERSONA[0]
    alice, bob, carol = (stack.DEMO_USERS[name][0] for name in ("alice", "bob", "carol"))
    return {
        "orgId": organization, "organization_id": organization, "organizationId": organization,
        "userId": alice, "user_id": alice, "me": alice,
        "memberId": bob, "other_user_id": bob, "otherUserId": bob, "recipient_id": bob, "bobId": bob,
        "annId": carol, "carolId": carol,
        "personaId": persona, "persona_id": persona,
        "conversationId": seeded["conversation"], "conversation_id": seeded["conversation"],
        "messageId": seeded["message"], "message_id": seeded["message"], "questionId": seeded["message"],
        "lastSeenId": seeded["message"],
    }  # fmt: skip


def all_rpc_calls(seeded) -> list[RpcCall]:
    return [call for block in blocks(API_DOC) for call in rpc_calls(block, bindings(seeded))]


def public_functions(api) -> set[str]:
    rows = api.query(
        """
        select p.proname as name from pg_proc p
        where p.pronamespace = 'public'::regnamespace and p.prokind = 'f'
          and (has_function_privilege('authenticated', p.oid, 'execute')
               or has_function_privilege('anon', p.oid, 'execute'))
          and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
        """,
        claims={"role": "service_role"},
    )
    return {row["name"] for row in rows}


def test_every_rpc_in_the_examples_exists_with_those_argument_names(api, seeded):
    problems = []
    for call in all_rpc_calls(seeded):
        if call.keys is None:
            continue  # arguments in a variable or spread: only the name is checked below
        try:
            api._resolve(call.name, set(call.keys))
        except ApiError as error:
            problems.append(f"{call.where}: supabase.rpc('{call.name}', {{{', '.join(call.keys)}}}): {error.message}")
    names = {call.name for call in all_rpc_calls(seeded)}
    functions = public_functions(api)
    problems += [f"docs/api.md names rpc('{name}'), which the database does not have" for name in names - functions]
    assert not problems, "\n".join(problems) + HOW_TO_FIX


def test_every_public_rpc_is_documented_in_api_md(api):
    text = API_DOC.read_text()
    missing = sorted(name for name in public_functions(api) if f"`{name}`" not in text and f"'{name}'" not in text)
    assert not missing, (
        "public functions missing from docs/api.md: "
        + ", ".join(missing)
        + "\nHow to fix: add each to an RPC table (| `name` | arguments | result | errors |) with a ```js example."
    )


def test_every_table_read_names_existing_tables_and_columns(api):
    problems = []
    for block in blocks(API_DOC):
        for call in table_calls(block):
            rows = api.query(
                "select a.attname as name from pg_attribute a where a.attrelid = to_regclass(%s) and a.attnum > 0 "
                "and not a.attisdropped", (f"public.{call.table}",), claims={"role": "service_role"},
            )  # fmt: skip
            if not rows:
                problems.append(f"{call.where}: supabase.from('{call.table}'): no such public table or view")
                continue
            columns = {row["name"] for row in rows}
            problems += [f"{call.where}: {call.table}.{column} does not exist" for column in call.columns
                         if column not in columns]  # fmt: skip
    assert not problems, "\n".join(problems) + HOW_TO_FIX


def test_rpc_examples_with_spelled_out_arguments_run_through_the_api(api, seeded):
    executed, problems = 0, []
    for call in all_rpc_calls(seeded):
        if call.keys is None or any(value is UNBOUND for value in call.values.values()):
            continue
        try:
            api.rpc(call.name, call.values, token=seeded["alice"])
        except ApiError as error:
            if error.code in BROKEN or error.status >= 500 or (error.status < 500 and not error.details
                                                                and error.code.startswith(("42", "22"))):  # fmt: skip
                problems.append(f"{call.where}: supabase.rpc('{call.name}', {json.dumps(call.values)}) "
                                f"as alice: {error}")  # fmt: skip
        executed += 1
    assert not problems, "\n".join(problems) + HOW_TO_FIX
    assert executed >= 20, f"only {executed} example calls could be executed: bind more names in BINDINGS"


def test_python_examples_in_api_md_run_through_the_api(api, seeded):
    for block in blocks(API_DOC, "python"):
        scope = {"api": api, "token": seeded["alice"], **bindings(seeded)}
        try:
            exec(compile(block.text, f"{block.path.name}:{block.line}", "exec"), scope)
        except Exception as error:
            raise AssertionError(f"{block.path.name}:{block.line}: the Python example failed: {error!r}"
                                 + HOW_TO_FIX) from error  # fmt: skip


HARNESS = """
import {{ createClient }} from '@supabase/supabase-js'
import WebSocket from 'ws'
const options = {options}
const seen = []
const addMessage = (message, id) => seen.push({{ kind: 'addMessage', id: message.id, eventId: id }})
const apply = (event, payload) => seen.push({{ kind: 'apply', event }})
const conversationId = options.conversationId
const supabase = createClient(options.url, options.anonKey, {{
  accessToken: async () => options.token,
  realtime: {{ transport: WebSocket, timeout: 5000 }},
}})
{example}
const deadline = Date.now() + 15000
process.stdout.write('subscribed\\n')
while (Date.now() < deadline && !seen.some((s) => s.kind === 'addMessage')) await new Promise((r) => setTimeout(r, 50))
seen.push({{ kind: 'state', state: typeof channel === 'undefined' ? null : channel.state }})
process.stdout.write(JSON.stringify(seen) + '\\n')
process.exit(0)
"""


def test_realtime_md_js_examples_run_under_node_and_receive_events(database, api, seeded, realtime_service, tmp_path):
    import subprocess
    import time

    node_ready()
    examples = blocks(REALTIME_DOC)
    assert examples, "docs/realtime.md has no ```js example"
    for block in examples:
        options = {
            "url": realtime_service.url.removesuffix("/realtime/v1").replace("ws://", "http://"),
            "anonKey": tokens.mint(database.jwt_secret, role="anon"), "token": seeded["alice"],
            "conversationId": seeded["conversation"],
        }  # fmt: skip
        script = JS_DIR / f".docs-example-{block.line}.mjs"
        script.write_text(HARNESS.format(options=json.dumps(options), example=textwrap.dedent(block.text)))
        try:
            process = subprocess.Popen(["node", str(script)], cwd=JS_DIR, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)  # fmt: skip
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "subscribed", process.stderr.read() if process.stderr else ""
            time.sleep(1.0)  # the join is under way; send as bob once it is in
            bob = tokens.mint(database.jwt_secret, user_id=seeded["bob"], email="bob@example.com")
            api.rpc("send_message", {"conversation_id": seeded["conversation"], "body": "from the docs test"},
                    token=bob)  # fmt: skip
            out, err = process.communicate(timeout=30)
        finally:
            script.unlink(missing_ok=True)
        seen = json.loads(out.strip().splitlines()[-1])
        assert any(item["kind"] == "addMessage" and item["eventId"] for item in seen), (
            f"{block.path.name}:{block.line}: the example received no message_created: {seen} (stderr: {err})"
        )
        assert any(item["kind"] == "apply" for item in seen)


def test_readme_first_calls_python_example_runs(database, seeded):
    """README.md "First calls": the placeholders are the banner's API URL and JWT secret."""
    [block] = blocks(ROOT / "README.md", "python")
    code = block.text.replace('"postgresql://authenticator:...@127.0.0.1:PORT/postgres"', repr(database.api_url))
    code = code.replace('"JWT secret from the banner"', repr(database.jwt_secret))
    code = code.replace("print(", "result = (")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    try:
        assert any(message["body"] == "Hi Bob" for message in scope["result"])
    finally:
        scope["api"].close()
