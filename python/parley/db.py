"""The PostgREST-equivalent request path.

PostgREST serves each HTTP request as one transaction on a connection logged in
as ``authenticator``: it verifies the JWT, then sets the transaction-local
settings ``role`` (from the JWT's role claim), ``request.jwt.claims``,
``request.method``, ``request.path`` and ``request.headers`` (lower-case header
names), runs the statement and commits. GET and HEAD run read-only. Errors come
back as ``{code, message, details, hint}`` with an HTTP status derived from the
SQLSTATE.

:class:`Api` does exactly that with psycopg, so tests and workers exercise the
same SQL a frontend reaches through PostgREST. It is not an HTTP server and
does not parse PostgREST's query language: callers write the SQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from parley import tokens

EXPOSED_SCHEMA = "public"
SEARCH_PATH = '"public", "extensions"'

_PREFIX_STATUS = {
    "08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500, "38": 500,
    "39": 500, "3B": 500, "40": 500, "53": 503, "54": 413, "55": 500, "57": 500, "58": 500,
    "F0": 500, "HV": 500, "P0": 500, "XX": 500,
}  # fmt: skip
_EXACT_STATUS = {"23503": 409, "23505": 409, "25006": 405, "P0001": 400, "42883": 404, "42P01": 404}


def http_status(sqlstate: str, *, anonymous: bool) -> int:
    """The HTTP status PostgREST answers for an error with this SQLSTATE.

    ``PTxyz`` becomes status xyz; 42501 (insufficient privilege) is 401 for an
    anonymous request and 403 otherwise; anything unlisted is 400.
    """
    if sqlstate.startswith("PT") and len(sqlstate) == 5 and sqlstate[2:].isdigit():
        return int(sqlstate[2:])
    if sqlstate == "42501":
        return 401 if anonymous else 403
    if sqlstate in _EXACT_STATUS:
        return _EXACT_STATUS[sqlstate]
    return _PREFIX_STATUS.get(sqlstate[:2], 400)


@dataclass
class ApiError(Exception):
    """A refused request, shaped like PostgREST's error body plus its HTTP status."""

    status: int
    code: str
    message: str
    details: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        text = f"HTTP {self.status} {self.code}: {self.message}"
        if self.details:
            text += f" ({self.details})"
        if self.hint:
            text += f" [hint: {self.hint}]"
        return text

    def body(self) -> dict[str, str | None]:
        """The JSON body PostgREST would send."""
        return {"code": self.code, "message": self.message, "details": self.details, "hint": self.hint}

    @classmethod
    def from_database(cls, error: psycopg.Error, *, anonymous: bool) -> ApiError:
        """Translate a PostgreSQL error as PostgREST does."""
        diag = error.diag
        code = diag.sqlstate or "XX000"
        return cls(
            status=http_status(code, anonymous=anonymous),
            code=code,
            message=diag.message_primary or str(error),
            details=diag.message_detail,
            hint=diag.message_hint,
        )


@dataclass(frozen=True)
class _Function:
    """What the request path needs to know to call one function overload."""

    argument_names: tuple[str, ...]
    argument_types: tuple[str, ...]
    required: frozenset[str]
    returns_set: bool
    returns_void: bool


def _json_default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


class Api:
    """Run SQL the way PostgREST runs a request, against one database.

    Connections log in as ``authenticator`` (or whichever user the URL names)
    and come from a small pool; each request is one transaction.
    """

    def __init__(
        self,
        conninfo: str,
        jwt_secret: str,
        *,
        max_connections: int = 16,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.jwt_secret = jwt_secret
        self.default_headers = dict(default_headers or {"user-agent": "parley-python"})
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_connections,
            kwargs={"autocommit": True, "row_factory": dict_row},
            open=True,
            name="parley-api",
        )
        self._functions: dict[str, list[_Function]] = {}
        self._pre_request: sql.Composable | None = None
        self._pre_request_loaded = False

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- authentication -------------------------------------------------

    def claims_for(self, token: str | None) -> dict[str, Any]:
        """Verify ``token`` as PostgREST does; no token means the anon role."""
        if token is None:
            return {"role": "anon"}
        try:
            return tokens.verify(self.jwt_secret, token)
        except tokens.TokenError as error:
            raise ApiError(401, error.code, error.message) from error

    # -- requests -------------------------------------------------------

    @contextmanager
    def request(
        self,
        token: str | None = None,
        *,
        claims: Mapping[str, Any] | None = None,
        method: str = "POST",
        path: str = "/",
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """One API request: a transaction with PostgREST's settings in place.

        Pass either a signed ``token`` or already-verified ``claims``. Inside the
        block, run the statements the request would run; leaving the block
        commits. Any database error rolls back and raises :class:`ApiError`.
        """
        verified = dict(claims) if claims is not None else self.claims_for(token)
        role = verified.get("role", "anon")
        merged_headers = {**self.default_headers, **{k.lower(): v for k, v in (headers or {}).items()}}
        with self._pool.connection() as connection:
            try:
                with connection.transaction():
                    if method.upper() in ("GET", "HEAD"):
                        connection.execute("set transaction read only")
                    connection.execute(
                        """
                        select set_config('search_path', %s, true),
                               set_config('role', %s, true),
                               set_config('request.jwt.claims', %s, true),
                               set_config('request.method', %s, true),
                               set_config('request.path', %s, true),
                               set_config('request.headers', %s, true),
                               set_config('request.cookies', '{}', true)
                        """,
                        (
                            SEARCH_PATH,
                            role,
                            json.dumps(verified, default=_json_default),
                            method.upper(),
                            path,
                            json.dumps(merged_headers),
                        ),
                    )
                    pre_request = self._pre_request_call(connection)
                    if pre_request is not None:
                        connection.execute(pre_request)
                    yield connection
            except psycopg.Error as error:
                raise ApiError.from_database(error, anonymous=role == "anon") from error

    def _pre_request_call(self, connection: psycopg.Connection[dict[str, Any]]) -> sql.Composable | None:
        """``select <db-pre-request>()`` if the database configures one for PostgREST (``pgrst.db_pre_request``
        on the authenticator role, read once), as PostgREST calls it before every request's statement."""
        if not self._pre_request_loaded:
            row = connection.execute(
                """
                select split_part(setting, '=', 2) as function
                from pg_catalog.pg_db_role_setting s, unnest(s.setconfig) as setting
                where s.setrole = (select oid from pg_catalog.pg_roles where rolname = 'authenticator')
                  and s.setdatabase in (0, (select oid from pg_catalog.pg_database where datname = current_database()))
                  and setting like 'pgrst.db_pre_request=%'
                order by s.setdatabase desc limit 1
                """
            ).fetchone()
            name = row["function"].strip() if row and row["function"] else ""
            if name:
                self._pre_request = sql.SQL("select {}()").format(sql.Identifier(*name.split(".", 1)))
            self._pre_request_loaded = True
        return self._pre_request

    def query(
        self,
        statement: str | sql.Composable,
        params: Any = None,
        *,
        token: str | None = None,
        claims: Mapping[str, Any] | None = None,
        method: str = "GET",
        path: str = "/",
        headers: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Run one statement as a request and return its rows (empty for none)."""
        with self.request(token, claims=claims, method=method, path=path, headers=headers) as connection:
            cursor = connection.execute(statement, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def rpc(
        self,
        function: str,
        args: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        claims: Mapping[str, Any] | None = None,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call ``public.<function>`` with named arguments, as ``POST /rpc/<function>`` does.

        Arguments travel as one JSON body and are typed by the function's own
        signature (``json_to_record``), as in PostgREST. The result is the JSON
        PostgREST would answer: a value, an object, a list for set-returning
        functions, or None for void.
        """
        args = dict(args or {})
        overload = self._resolve(function, set(args))
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(type_name))
            for name, type_name in zip(overload.argument_names, overload.argument_types, strict=True)
            if name in args
        )
        call_arguments = sql.SQL(", ").join(
            sql.SQL("{name} := (select {name} from pgrst_args)").format(name=sql.Identifier(name))
            for name in overload.argument_names
            if name in args
        )
        call = sql.SQL("{}.{}({})").format(sql.Identifier(EXPOSED_SCHEMA), sql.Identifier(function), call_arguments)
        if overload.returns_void:
            projection = sql.SQL("select {call}, null::jsonb as result").format(call=call)
        elif overload.returns_set:
            projection = sql.SQL(
                "select coalesce(jsonb_agg(pgrst_call), '[]'::jsonb) as result from {call} pgrst_call"
            ).format(call=call)
        else:
            projection = sql.SQL("select to_jsonb(pgrst_call) as result from {call} pgrst_call").format(call=call)
        if args:
            statement = sql.SQL(
                "with pgrst_args as (select * from json_to_record(%s::json) as _({columns})) {projection}"
            ).format(columns=columns, projection=projection)
            params: tuple[Any, ...] | None = (json.dumps(args, default=_json_default),)
        else:
            statement, params = projection, None
        rows = self.query(
            statement, params, token=token, claims=claims, method=method,
            path=f"/rpc/{function}", headers=headers,
        )  # fmt: skip
        return rows[0]["result"] if rows else None

    def _resolve(self, function: str, given: set[str]) -> _Function:
        overloads = self._functions.get(function)
        if overloads is None:
            overloads = self._load_function(function)
            self._functions[function] = overloads
        for overload in overloads:
            if overload.required <= given <= set(overload.argument_names):
                return overload
        raise ApiError(
            404,
            "PGRST202",
            f"Could not find the {EXPOSED_SCHEMA}.{function}({', '.join(sorted(given))}) function",
            hint="Check the function name and its argument names.",
        )

    def _load_function(self, function: str) -> list[_Function]:
        with self._pool.connection() as connection:
            rows = connection.execute(
                """
                select p.proretset as returns_set,
                       p.prorettype = 'void'::regtype as returns_void,
                       p.pronargdefaults as defaults,
                       coalesce(p.proargnames, '{}') as names,
                       coalesce(p.proargmodes::text[], '{}') as modes,
                       array(select format_type(t, null) from unnest(p.proargtypes) t) as input_types
                from pg_proc p
                join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = %s and p.proname = %s
                """,
                (EXPOSED_SCHEMA, function),
            ).fetchall()
        overloads = []
        for row in rows:
            names = row["names"]
            if row["modes"]:
                names = [name for name, mode in zip(names, row["modes"], strict=False) if mode in ("i", "b", "v")]
            names = tuple(names[: len(row["input_types"])])
            required = frozenset(names[: len(names) - row["defaults"]])
            overloads.append(
                _Function(names, tuple(row["input_types"]), required, row["returns_set"], row["returns_void"])
            )
        return overloads
