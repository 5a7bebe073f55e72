"""What every command router shares: the services, who signs, idempotent answers, error edges.

Layer: api (HTTP). ``wire(ctx)`` builds the application services once per process and keeps
them in ``ctx.services["wiring"]``; routers reach them through the ``Wired`` dependency.

Who signs over HTTP (DESIGN invariant 2) — the API process holds the keystore:

- a department token issued to an official (``token create --official``) acts with that
  official's personal key (actor ``official:<staff code>``; 409 ``official-not-enrolled``
  without one) — the case service and the other domain services check the official's role
  and department (``COMMAND_ROLES``, ``DOMAIN_COMMAND_ROLES``; FZ·26(五));
  a department's system token (no official) acts with its current seal key (actor
  ``dept:<code>``); a department without one answers 409 ``department-not-enrolled``;
  documents are sealed by the department's seal key either way;
- applicant-side domain commands from a department's systems (the portal, the window) are
  signed by the portal key (actor ``portal``), kiosk tokens by their kiosk's key (actor
  ``kiosk:<token name>``), supervisors by the supervision office's key (actor
  ``supervisor:<office>``) — each enrolled in the chain on first use — or, for a supervisor
  token issued to an official of the office (``token create --role supervisor --official``),
  by that official's personal key, checked for the ``supervision`` role in the office;
- an admin acts with the platform key where a command allows it, else with the key of the
  department the resource belongs to.

Idempotency (DESIGN invariant 6): every POST may carry ``Idempotency-Key``. The first answer
(status and body) is kept in the unchained table ``api_idempotency`` under (token, key); a
repeat gets it back and records nothing; a concurrent duplicate waits for the first one's
answer. Case commands instead pass the key to :class:`~ledger.services.cases.CaseService`,
whose in-chain record commits atomically with the command's events: that record alone answers
their repeats (the first outcome, rendered again) and refuses a key reused for another case
command, so they use no answer table — no claim and no answer transaction per command. A key
is checked within its family: reused between a case command and another command, it is not
refused.

When the database fails (``ledger.storage.faults``: 503 with ``Retry-After``), no claim is
left behind that would make the client's retry wait: a claim that could not be released,
or an answer that could not be stored, is kept by the process and written by a background
thread as soon as the database answers again (``IdempotencyStore.settle_later``); a command
that committed answers its client all the same. Each claim carries its own stamp, so a late
release never removes a claim taken over since.

The application receipt (the submission's 201) carries the applicant's kiosk verification code
(``verification_code``, ``kiosk.codes``; KIOSK.md "Verification codes", FZ·6, GZ16·18). It is
added as the answer leaves, derived from the keystore's secret: neither the chain nor the kept
answers hold a code, a repeat gets the same one, and nothing logs it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Final
from uuid import UUID

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from api import sidedb
from api.bootstrap import enrol_actor
from api.http.context import ApiContext
from api.http.deps import api_context
from api.http.problems import Problem
from api.services import Services, SystemClock, build_services
from api.tokens import Principal, Role
from kiosk.codes import SECRET_NAME, verification_code
from ledger.domain.city_rules import rules_for
from ledger.domain.keys import KeyRole
from ledger.domain.rules import NotInDepartmentScope
from ledger.domain.signer import Signer
from ledger.errors import KeystoreError, LedgerError
from ledger.services.application import KeyNotUsable
from ledger.services.cases import ConcurrentModification, NotFound
from ledger.services.domain_services import DomainServices, UnknownRecord
from ledger.services.idempotency import IdempotencyKeyReused, InvalidIdempotencyKey
from ledger.storage.faults import storage_fault
from ledger.storage.urls import StorageURL

PORTAL_ACTOR: Final = "portal"
SUPERVISION_OFFICE: Final = "ZWFW"
"""The code the supervision office's key acts for (网上办事管理部门 / 电子监察)."""
MAX_KEY: Final = 180
"""Longest client idempotency key (the scoped key must stay within the ledger's 200)."""
WAIT_FOR_FIRST: Final = 30.0
"""How long a concurrent duplicate waits for the first request's answer, in seconds."""
STALE_CLAIM: Final = 120.0
"""A claim with no answer after this many seconds (its process died) may be taken over."""
SETTLE_INTERVAL: Final = 0.25
"""How often claims and answers the database refused are written again, in seconds."""

RECEIPT_COMMAND: Final = "submit"
"""The command whose 201 answer is the application receipt (申请回执)."""
_ACTOR_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
log = logging.getLogger("caseledger.http")


# --- services ------------------------------------------------------------------------------


@dataclass
class Wiring(DomainServices):
    """The application services of the HTTP process (the six domain services of
    :class:`DomainServices` among them) and the signers it acts with."""

    ctx: ApiContext
    services: Services
    idempotency: IdempotencyStore
    clock: SystemClock = field(default_factory=SystemClock)
    enrol: Any = field(default_factory=threading.Lock)
    """Held while an actor is enrolled on first use; ``serve --workers`` shares one lock
    between its processes, so two workers never enrol one actor twice."""

    def now(self) -> dt.datetime:
        return self.clock.now()

    # -- signers --------------------------------------------------------------------------

    def department_signer(self, code: str) -> Signer:
        """The department's current seal key; 409 ``department-not-enrolled`` without one."""
        try:
            return self.ctx.runtime.keystore.current_signer(f"dept:{code}")
        except KeystoreError:
            raise Problem(
                409,
                "Department not enrolled",
                f"department {code} has no seal key yet: an admin enrols it first "
                "(POST /v1/admin/departments)",
                code="department-not-enrolled",
            ) from None

    def official_signer(self, staff_code: str) -> Signer:
        """The official's personal key; 409 ``official-not-enrolled`` without one."""
        try:
            return self.ctx.runtime.keystore.current_signer(f"official:{staff_code}")
        except KeystoreError:
            raise Problem(
                409,
                "Official not enrolled",
                f"official {staff_code} has no key in this server's keystore: an "
                "administrator appoints them first (POST /v1/admin/officials)",
                code="official-not-enrolled",
            ) from None

    def acting_signer(self, who: Principal, department: str) -> Signer:
        """Who signs a department step: the token's official, else the department's seal."""
        if who.official:
            return self.official_signer(who.official)
        return self.department_signer(department)

    def supervising_signer(self, who: Principal) -> Signer:
        """Who signs a supervision step: the token's official (a supervision official of the
        office), else the supervision office's key."""
        if who.official:
            return self.official_signer(who.official)
        return self.supervisor_signer()

    def seal_signer(self, code: str) -> Signer:
        """The current seal of a department, or of the supervision office: what seals the
        records of a step an official signs (``ledger.services.acting``)."""
        if code == SUPERVISION_OFFICE:
            return self.supervisor_signer()
        return self.department_signer(code)

    def platform_signer(self) -> Signer:
        return self.ctx.runtime.platform_signer()

    def _actor_signer(self, actor: str, role: KeyRole, department: str = "") -> Signer:
        keystore = self.ctx.runtime.keystore
        try:
            return keystore.current_signer(actor)
        except KeystoreError:
            pass
        with self.enrol:  # one enrolment per actor, even under concurrent first requests
            try:
                return keystore.current_signer(actor)
            except KeystoreError:
                return enrol_actor(self.ctx.runtime, actor, role, department=department)

    def portal_signer(self) -> Signer:
        return self._actor_signer(PORTAL_ACTOR, KeyRole.APPLICANT_PORTAL)

    def kiosk_signer(self, who: Principal) -> Signer:
        name = who.name if _ACTOR_NAME.fullmatch(who.name or "") else who.token_id
        return self._actor_signer(f"kiosk:{name}", KeyRole.KIOSK)

    def supervisor_signer(self) -> Signer:
        return self._actor_signer(
            f"supervisor:{SUPERVISION_OFFICE}", KeyRole.SUPERVISOR, SUPERVISION_OFFICE
        )

    def applicant_signer(self, who: Principal) -> Signer:
        """Who signs what an applicant does through this caller: a kiosk, else the portal."""
        return self.kiosk_signer(who) if who.role is Role.KIOSK else self.portal_signer()

    def reader_signer(self, who: Principal) -> Signer:
        """Who signs a record the caller leaves (e.g. a personal-data read): the token's
        official when it is issued to one — the person who saw the data — else the role's key."""
        if who.official:
            return self.official_signer(who.official)
        if who.role is Role.DEPARTMENT:
            return self.department_signer(who.department)
        if who.role is Role.SUPERVISOR:
            return self.supervisor_signer()
        if who.role is Role.KIOSK:
            return self.kiosk_signer(who)
        return self.platform_signer()


def install(ctx: ApiContext) -> Wiring:
    """Build the services once for ``ctx`` (both command routers call this)."""
    found = ctx.services.get("wiring")
    if isinstance(found, Wiring):
        return found
    ledger = ctx.runtime.ledger
    city = ctx.runtime.settings.city
    domain = DomainServices.over(ledger, city=rules_for(city) if city else None)

    def is_blacklisted(applicant_id: UUID, on: dt.date) -> tuple[bool, dt.date | None, str]:
        blocked, until, route = domain.blacklist.is_blacklisted(applicant_id, on)
        return blocked, until, route

    store = IdempotencyStore(ctx.runtime.settings.storage)
    store.migrate()
    wiring = Wiring(
        ctx=ctx,
        services=build_services(ctx.runtime, is_blacklisted=is_blacklisted),
        idempotency=store,
        **vars(domain),
    )
    for service in vars(domain).values():
        service.sealed_by(wiring.seal_signer)  # the seals of officials' steps
    ctx.services["wiring"] = wiring
    return wiring


async def wiring(request: Request) -> Wiring:
    found = api_context(request).services.get("wiring")
    if not isinstance(found, Wiring):
        raise Problem(503, "Not ready", "the command services are not installed", code="not-ready")
    return found


Wired = Annotated[Wiring, Depends(wiring)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=MAX_KEY,
        pattern=r"^[!-~]+$",
        description="Repeat the request with the same key to get the first answer again; "
        "nothing is recorded twice (8–180 printable ASCII characters, no spaces; a UUID).",
    ),
]


def scoped_key(who: Principal, key: str | None) -> str | None:
    """The key as the ledger records it: scoped by the caller's token (never personal data)."""
    return None if key is None else f"{who.token_id}:{key}"


def in_scope(who: Principal, department: str) -> None:
    """A department token sees only its own department: anything else is 404, not 403."""
    if who.role is Role.DEPARTMENT and who.department != department:
        raise Problem(404, "Not found", "no such resource", code="not-found")


# --- errors at the edge --------------------------------------------------------------------


@contextmanager
def edge() -> Iterator[None]:
    """Map the service layer's look-up, scope, key and idempotency errors to problems (the
    rule violations themselves are mapped by ``api.http.problems``)."""
    try:
        yield
    except (NotFound, UnknownRecord) as exc:
        raise Problem(404, "Not found", str(exc), code="not-found") from None
    except NotInDepartmentScope:
        raise Problem(404, "Not found", "no such resource", code="not-found") from None
    except (IdempotencyKeyReused, InvalidIdempotencyKey) as exc:
        raise Problem(
            422,
            "Idempotency key reused",
            f"Idempotency-Key: {exc}",
            code="idempotency-key-reused",
            field="Idempotency-Key",
        ) from None
    except KeyNotUsable as exc:
        raise Problem(403, "Forbidden", str(exc), code="key-not-usable") from None
    except ConcurrentModification as exc:
        raise Problem(409, "Conflict", str(exc), code="concurrent-modification") from None


# --- JSON of domain values -----------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Domain values as JSON: bytes as hex, instants and dates ISO 8601, decimals as text."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return jsonable(value.value)
    return value


# --- idempotent answers --------------------------------------------------------------------


class IdempotencyStore:
    """First answers by (token, key), on SQLite or PostgreSQL, next to ``api_tokens``.

    A claim is stamped (``claimed_at``, nanoseconds) by the request that made it; release,
    answer and take-over name the stamp, so each touches only its own claim."""

    def __init__(self, storage: StorageURL):
        self.storage = storage
        self._unsettled: dict[tuple[str, str, int], tuple[int, str] | None] = {}
        self._guard = threading.Lock()
        self._settler: threading.Thread | None = None

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A transaction that does not wait for its own WAL flush (PostgreSQL).

        Safe because these rows are a cache of answers, not the record: WAL is written in
        order, so the ledger command that follows a claim flushes the claim with it, and a
        lost answer leaves a claim that a retry takes over once stale — the ledger's own
        idempotency record then returns the first outcome. It saves a flush per POST."""
        with sidedb.cursor(self.storage) as c:
            if not self.storage.is_sqlite:
                c.execute("SET LOCAL synchronous_commit TO OFF")
            yield c

    def migrate(self) -> None:
        with self._cursor() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS api_idempotency (token_id TEXT NOT NULL, "
                "idem_key TEXT NOT NULL, digest TEXT NOT NULL, status INTEGER, body TEXT, "
                "claimed_at BIGINT NOT NULL, PRIMARY KEY (token_id, idem_key))"
            )

    def claim(self, token_id: str, key: str, digest: str) -> int | None:
        """Claim the key for this request: its stamp, or ``None`` if someone holds it already.

        If the database fails, the claim may or may not have been written: it is released
        later (:meth:`settle_later`) and the error raised."""
        stamp = time.time_ns()
        try:
            with self._cursor() as c:
                c.execute(
                    sidedb.sql_text(
                        self.storage,
                        "INSERT INTO api_idempotency (token_id, idem_key, digest, status, body, "
                        "claimed_at) VALUES (?, ?, ?, NULL, NULL, ?) ON CONFLICT DO NOTHING",
                    ),
                    (token_id, key, digest, stamp),
                )
                return stamp if c.rowcount else None
        except Exception:
            self.settle_later(token_id, key, stamp, None)
            raise

    def get(self, token_id: str, key: str) -> tuple[str, int | None, str | None, int] | None:
        with self._cursor() as c:
            c.execute(
                sidedb.sql_text(
                    self.storage,
                    "SELECT digest, status, body, claimed_at FROM api_idempotency "
                    "WHERE token_id = ? AND idem_key = ?",
                ),
                (token_id, key),
            )
            row = c.fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3])

    def answer(self, token_id: str, key: str, stamp: int, status: int, body: str) -> None:
        with self._cursor() as c:
            c.execute(
                sidedb.sql_text(
                    self.storage,
                    "UPDATE api_idempotency SET status = ?, body = ? "
                    "WHERE token_id = ? AND idem_key = ? AND claimed_at = ?",
                ),
                (status, body, token_id, key, stamp),
            )

    def release(self, token_id: str, key: str, stamp: int) -> None:
        """Forget a claim whose command was refused (a refused command records nothing)."""
        with self._cursor() as c:
            c.execute(
                sidedb.sql_text(
                    self.storage,
                    "DELETE FROM api_idempotency WHERE token_id = ? AND idem_key = ? "
                    "AND claimed_at = ? AND status IS NULL",
                ),
                (token_id, key, stamp),
            )

    def take_over(self, token_id: str, key: str, claimed_at: int) -> int | None:
        """Take over a stale claim (its request never answered): the new stamp, or ``None``."""
        stamp = time.time_ns()
        try:
            with self._cursor() as c:
                c.execute(
                    sidedb.sql_text(
                        self.storage,
                        "UPDATE api_idempotency SET claimed_at = ? WHERE token_id = ? "
                        "AND idem_key = ? AND status IS NULL AND claimed_at = ?",
                    ),
                    (stamp, token_id, key, claimed_at),
                )
                return stamp if c.rowcount else None
        except Exception:
            self.settle_later(token_id, key, stamp, None)
            raise

    # -- what the database refused, written later --------------------------------------------

    def release_or_later(self, token_id: str, key: str, stamp: int) -> None:
        """Release the claim now, or as soon as the database answers; never raises."""
        try:
            self.release(token_id, key, stamp)
        except Exception:
            self.settle_later(token_id, key, stamp, None)

    def answer_or_later(self, token_id: str, key: str, stamp: int, status: int, body: str) -> None:
        """Store the answer now, or as soon as the database answers; never raises (the
        command committed: its client gets the answer either way)."""
        try:
            self.answer(token_id, key, stamp, status, body)
        except Exception:
            self.settle_later(token_id, key, stamp, (status, body))

    def settle_later(
        self, token_id: str, key: str, stamp: int, answer: tuple[int, str] | None
    ) -> None:
        """Keep (in this process) a claim to release (``answer`` ``None``) or an answer to
        store, and write it from a background thread once the database answers again."""
        with self._guard:
            self._unsettled[(token_id, key, stamp)] = answer
            if self._settler is None or not self._settler.is_alive():
                self._settler = threading.Thread(
                    target=self._settle, name="idempotency-settler", daemon=True
                )
                self._settler.start()

    def unsettled(self) -> int:
        """How many claims or answers wait for the database."""
        with self._guard:
            return len(self._unsettled)

    def _settle(self) -> None:
        while True:
            with self._guard:
                items = list(self._unsettled.items())
                if not items:
                    self._settler = None
                    return
            for (token_id, key, stamp), answer in items:
                try:
                    if answer is None:
                        self.release(token_id, key, stamp)
                    else:
                        self.answer(token_id, key, stamp, *answer)
                except Exception as exc:
                    log.warning(
                        "idempotency answer kept for later: %s",
                        storage_fault(exc) or type(exc).__name__,
                    )
                    break  # the database is still away: wait, then try again
                with self._guard:
                    if self._unsettled.get((token_id, key, stamp), False) == answer:
                        del self._unsettled[(token_id, key, stamp)]
            time.sleep(SETTLE_INTERVAL)


def request_digest(command: str, params: Mapping[str, Any]) -> str:
    text = json.dumps({"command": command, "params": jsonable(params)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def respond(
    wired: Wiring,
    who: Principal,
    key: str | None,
    command: str,
    params: Mapping[str, Any],
    action: Callable[[], BaseModel],
    *,
    status: int = 200,
    in_ledger: bool = False,
) -> Response:
    """Run ``action`` once per (token, ``key``) and answer with its model as JSON.

    A repeat with the same key and request returns the first answer (status and body) and
    runs nothing; a concurrent duplicate waits for it; the same key with another request is
    422 ``idempotency-key-reused``. A refused command keeps no answer (a retry runs again),
    and neither does one that met a storage fault (503): its retry runs again too, and a
    case command that did commit then returns its first outcome from the chain.

    ``in_ledger``: ``action`` passes the key on to the case service, whose idempotency
    record commits in the command's own write transaction: it alone makes the command
    run once (a repeat, or a concurrent duplicate that loses the race, gets the first
    outcome from the chain, rendered the same way) and refuses the key's reuse for another
    request. The answer table is then left out — its claim and answer were two more
    transactions per command, outside the one that records it — and the handler's look-ups
    are checked at the write (``LedgerApplication.optimistic_reads``).
    """
    if key is None or in_ledger:
        # A case command's own look-ups (its item, to choose the signer) join the reads the
        # case service has checked at the write, instead of each costing a round trip.
        ledger = wired.ctx.runtime.ledger
        with edge(), ledger.optimistic_reads() if in_ledger else nullcontext():
            try:
                body = action().model_dump(mode="json")
            except (LedgerError, Problem):
                if not (in_ledger and ledger.refresh_reads()):
                    raise
                body = action().model_dump(mode="json")  # refused on a stale copy: afresh
        body = _for_applicant(wired, command, status, body)
        if key is None:
            return JSONResponse(body, status_code=status)
        return _rendered(json.dumps(body, sort_keys=True, ensure_ascii=False), status)
    store = wired.idempotency
    digest = request_digest(command, params)
    deadline = time.monotonic() + WAIT_FOR_FIRST
    while (stamp := store.claim(who.token_id, key, digest)) is None:
        found = store.get(who.token_id, key)
        if found is None:
            continue  # the first request was refused and released its claim: try again
        first_digest, first_status, first_body, claimed_at = found
        if first_digest != digest:
            raise Problem(
                422,
                "Idempotency key reused",
                "Idempotency-Key: first used for another request",
                code="idempotency-key-reused",
                field="Idempotency-Key",
            )
        if first_status is not None and first_body is not None:
            return _json(wired, command, first_body, first_status)
        stale = time.time_ns() - claimed_at > STALE_CLAIM * 1e9
        if stale and (stamp := store.take_over(who.token_id, key, claimed_at)) is not None:
            break
        if time.monotonic() > deadline:
            raise Problem(
                409,
                "Request in progress",
                "a request with this Idempotency-Key is still being processed; retry later",
                code="idempotency-in-progress",
            )
        time.sleep(0.05)
    try:
        with edge():
            body = action().model_dump(mode="json")
    except BaseException:
        store.release_or_later(who.token_id, key, stamp)
        raise
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    store.answer_or_later(who.token_id, key, stamp, status, text)
    return _json(wired, command, text, status)


def _json(wired: Wiring, command: str, text: str, status: int) -> Response:
    """The stored answer, so a repeat is identical to the first byte for byte (with the code
    of an application receipt added to both the same way)."""
    if command == RECEIPT_COMMAND and status == 201:
        body = _for_applicant(wired, command, status, json.loads(text))
        text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return _rendered(text, status)


def _rendered(text: str, status: int) -> Response:
    """An answer rendered already: sent as is, not serialised again (a case command renders
    its body once, with the receipt's code added before, so a repeat's bytes are the same)."""
    return Response(content=text.encode(), status_code=status, media_type="application/json")


def _for_applicant(wired: Wiring, command: str, status: int, body: Any) -> Any:
    """The answer as the caller gets it: on the application receipt, the kiosk verification
    code of its serial, which the applicant needs to query the case at a kiosk (never stored
    with the kept answer)."""
    if command != RECEIPT_COMMAND or status != 201 or not isinstance(body, dict):
        return body
    serial = body.get("serial")
    if not isinstance(serial, str):
        return body
    secret = wired.ctx.runtime.keystore.secret(SECRET_NAME)
    return {**body, "verification_code": verification_code(secret, serial)}
