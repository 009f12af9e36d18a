"""Incidents, alerts and notifications: raised by recorded scans (set-based over a micro-batch), then worked by
people (acknowledge, assign, comment, resolve)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from domain.alerts import (
    CRITICAL_SCORE_THRESHOLD,
    LOW_SCORE_THRESHOLD,
    Notice,
    incident_reasons,
    regression_notice,
    score_notification,
)
from domain.baselines import Regression, choose_baseline, detect_regression
from domain.errors import Conflict, Unprocessable
from models import Alert, Incident, Membership, User
from orchestration.types import WebhookEvent
from services.scan_recording import CheckInfo, ScoredScan

# Event ids derive from (scan, kind): a recording retried after a rollback produces the same ids, so the
# delivery workflows started for the first attempt find the rows the successful attempt committed.
EVENT_NAMESPACE = uuid.UUID("5d0f7a53-4e1b-4c55-9a5e-7f3c2c1d9b21")
REASON_TEXT = {
    "critical_check_failed": "critical check failed",
    "score_below_50": f"score below {CRITICAL_SCORE_THRESHOLD:g}%",
    "score_regression": "score regression",
}
MAX_RULES_IN_TIMELINE = 20


def event_id(scan_id: uuid.UUID, kind: str) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, f"{scan_id}:{kind}")


@dataclass
class ScanVerdict:
    scan: ScoredScan
    notice: Notice | None
    regression: Regression | None
    reasons: list[str]
    failed_critical: list[str]
    open_incident: bool = False  # the host+policy had an open incident when the evaluation began

    @property
    def severity(self) -> str:
        critical = {"critical_check_failed", "score_below_50"} & set(self.reasons)
        return "critical" if critical else "warning"

    def timeline_entry(self, event: str) -> str:
        entry = {"at": self.scan.completed_at.isoformat(), "event": event, "scan_id": str(self.scan.scan_id),
                 "score": self.scan.score}
        if self.reasons:
            entry["reasons"] = self.reasons
        if self.failed_critical:
            entry["failed_critical_checks"] = self.failed_critical[:MAX_RULES_IN_TIMELINE]
        if self.regression:
            entry["baseline_score"] = self.regression.baseline_score
        return json.dumps(entry)


async def evaluate_scans(
    session: AsyncSession, scored: list[ScoredScan], checks: dict[uuid.UUID, list[CheckInfo]], now: datetime
) -> list[WebhookEvent]:
    """Notify, alert and open/extend/resolve incidents for a recorded micro-batch; returns the new events, for
    the webhooks.

    Runs in the recording transaction. Every write is keyed by scan (unique notification/alert keys, timeline
    entries guarded by scan id, incident opening deduplicated on the one-open-per-host+policy index), so a
    scan evaluated twice changes nothing the second time.
    """
    if not scored:
        return []
    verdicts = await _judge(session, scored, checks)
    events = await _notify(session, verdicts) + await _alert(session, verdicts)
    await _incidents(session, verdicts)
    await _correlate(session, verdicts)
    return events


async def _judge(
    session: AsyncSession, scored: list[ScoredScan], checks: dict[uuid.UUID, list[CheckInfo]]
) -> list[ScanVerdict]:
    baselines = await _baseline_scores(session, scored)
    critical = {template_id: [(n, c.rule_id) for n, c in enumerate(template_checks) if c.severity == "critical"]
                for template_id, template_checks in checks.items()}
    verdicts = []
    for scan in sorted(scored, key=lambda s: (s.completed_at, str(s.scan_id))):
        window, previous, open_incident = baselines.get(scan.scan_id, ([], None, False))
        # An incomplete scan's score is not a measurement to compare with anything.
        regression = None if scan.incomplete else detect_regression(choose_baseline(window, previous), scan.score)
        failed_critical = sorted(rule_id for n, rule_id in critical.get(scan.template_id, [])
                                 if scan.statuses[n] == "fail")
        verdicts.append(ScanVerdict(
            scan=scan, notice=score_notification(scan.score), regression=regression,
            reasons=incident_reasons(len(failed_critical), scan.score, regression), failed_critical=failed_critical,
            open_incident=open_incident,
        ))
    return verdicts


async def _baseline_scores(
    session: AsyncSession, scored: list[ScoredScan]
) -> dict[uuid.UUID, tuple[list[float], float | None, bool]]:
    """Per scan: scores of the host+policy's completed scans in the 7 days before it, the one just before it, and
    whether the host+policy has an open incident (one a clean scan could resolve)."""
    with_score = [s for s in scored if s.score is not None and not s.incomplete]
    if not with_score:
        return {}
    rows = await session.execute(text("""
        SELECT n.scan_id, w.scores, p.score AS previous,
               EXISTS (SELECT 1 FROM incidents i WHERE i.host_id = n.host_id AND i.policy_id = n.policy_id
                                                  AND i.status = 'open') AS open_incident
        FROM unnest(CAST(:ids AS uuid[]), CAST(:hosts AS uuid[]), CAST(:policies AS uuid[]),
                    CAST(:ats AS timestamptz[])) AS n(scan_id, host_id, policy_id, at)
        LEFT JOIN LATERAL (
            SELECT array_agg(s.score) AS scores FROM compliance_scans s
            WHERE s.host_id = n.host_id AND s.policy_id = n.policy_id AND s.status = 'completed'
              AND s.completed_at >= n.at - interval '7 days' AND s.completed_at < n.at
              AND s.id <> n.scan_id AND s.score IS NOT NULL AND s.score_reason IS DISTINCT FROM 'incomplete'
        ) w ON true
        LEFT JOIN LATERAL (
            SELECT s.score FROM compliance_scans s
            WHERE s.host_id = n.host_id AND s.policy_id = n.policy_id AND s.status = 'completed'
              AND s.completed_at < n.at AND s.id <> n.scan_id AND s.score IS NOT NULL
              AND s.score_reason IS DISTINCT FROM 'incomplete'
            ORDER BY s.completed_at DESC LIMIT 1
        ) p ON true
    """), {"ids": [s.scan_id for s in with_score], "hosts": [s.host_id for s in with_score],
           "policies": [s.policy_id for s in with_score], "ats": [s.completed_at for s in with_score]})
    return {scan_id: ([float(v) for v in scores or []], None if previous is None else float(previous), open_incident)
            for scan_id, scores, previous, open_incident in rows}


async def _notify(session: AsyncSession, verdicts: list[ScanVerdict]) -> list[WebhookEvent]:
    rows = [v for v in verdicts if v.notice is not None]
    if not rows:
        return []
    threshold = {"compliance_score_critical": CRITICAL_SCORE_THRESHOLD, "compliance_score_low": LOW_SCORE_THRESHOLD}
    inserted = await session.execute(text("""
        INSERT INTO notifications (id, org_id, host_id, policy_id, scan_id, kind, severity, message, details,
                                   created_at, updated_at)
        SELECT n.*, now(), now()
        FROM unnest(CAST(:id AS uuid[]), CAST(:org AS uuid[]), CAST(:host AS uuid[]), CAST(:policy AS uuid[]),
                    CAST(:scan AS uuid[]), CAST(:kind AS text[]), CAST(:severity AS text[]),
                    CAST(:message AS text[]), CAST(:details AS jsonb[]))
             AS n(id, org_id, host_id, policy_id, scan_id, kind, severity, message, details)
        ON CONFLICT (scan_id, kind) DO NOTHING
        RETURNING id, org_id
    """), {
        "id": [event_id(v.scan.scan_id, v.notice.kind) for v in rows],
        "org": [v.scan.org_id for v in rows], "host": [v.scan.host_id for v in rows],
        "policy": [v.scan.policy_id for v in rows], "scan": [v.scan.scan_id for v in rows],
        "kind": [v.notice.kind for v in rows], "severity": [v.notice.severity for v in rows],
        "message": [v.notice.message for v in rows],
        "details": [json.dumps({"score": v.scan.score, "threshold": threshold[v.notice.kind]}) for v in rows],
    })
    return [WebhookEvent("notification", str(i), str(org)) for i, org in inserted]


async def _alert(session: AsyncSession, verdicts: list[ScanVerdict]) -> list[WebhookEvent]:
    rows = [(v, regression_notice(v.regression)) for v in verdicts if v.regression is not None]
    if not rows:
        return []
    inserted = await session.execute(text("""
        INSERT INTO alerts (id, org_id, host_id, policy_id, scan_id, alert_type, severity, message, metadata,
                            created_at, updated_at)
        SELECT n.*, now(), now()
        FROM unnest(CAST(:id AS uuid[]), CAST(:org AS uuid[]), CAST(:host AS uuid[]), CAST(:policy AS uuid[]),
                    CAST(:scan AS uuid[]), CAST(:kind AS text[]), CAST(:severity AS text[]),
                    CAST(:message AS text[]), CAST(:details AS jsonb[]))
             AS n(id, org_id, host_id, policy_id, scan_id, alert_type, severity, message, details)
        ON CONFLICT (scan_id, alert_type) DO NOTHING
        RETURNING id, org_id
    """), {
        "id": [event_id(v.scan.scan_id, notice.kind) for v, notice in rows],
        "org": [v.scan.org_id for v, _ in rows], "host": [v.scan.host_id for v, _ in rows],
        "policy": [v.scan.policy_id for v, _ in rows], "scan": [v.scan.scan_id for v, _ in rows],
        "kind": [notice.kind for _, notice in rows], "severity": [notice.severity for _, notice in rows],
        "message": [notice.message for _, notice in rows],
        "details": [json.dumps({"baseline_type": v.regression.baseline_type,
                                "baseline_score": v.regression.baseline_score,
                                "current_score": v.regression.current_score,
                                "drop_percentage": v.regression.drop_percentage}) for v, _ in rows],
    })
    return [WebhookEvent("alert", str(i), str(org)) for i, org in inserted]


async def _correlate(session: AsyncSession, verdicts: list[ScanVerdict]) -> None:
    """Each new alert names the incident its scan opened or extended."""
    scans = [v.scan.scan_id for v in verdicts if v.regression is not None]
    if scans:
        await session.execute(text("""
            UPDATE alerts a SET incident_id = i.id, updated_at = now()
            FROM incidents i
            WHERE a.scan_id = ANY(:scans) AND a.incident_id IS NULL
              AND i.host_id = a.host_id AND i.policy_id = a.policy_id
              AND i.timeline @> jsonb_build_array(jsonb_build_object('scan_id', CAST(a.scan_id AS text)))
        """), {"scans": scans})


_SCAN_IN_TIMELINE = "i.timeline @> jsonb_build_array(jsonb_build_object('scan_id', CAST(n.scan_id AS text)))"


async def _incidents(session: AsyncSession, verdicts: list[ScanVerdict]) -> None:
    """Open one incident per host+policy (racing scans meet on the partial unique index), extend it, resolve it."""
    triggered = [v for v in verdicts if v.reasons]
    if triggered:
        columns = {
            "id": [uuid.uuid4() for _ in triggered], "org": [v.scan.org_id for v in triggered],
            "host": [v.scan.host_id for v in triggered], "policy": [v.scan.policy_id for v in triggered],
            "scan": [v.scan.scan_id for v in triggered], "severity": [v.severity for v in triggered],
            "summary": [", ".join(REASON_TEXT[r] for r in v.reasons) for v in triggered],
            "opened": [v.timeline_entry("opened") for v in triggered],
            "repeated": [v.timeline_entry("triggered") for v in triggered],
        }
        await session.execute(text("""
            INSERT INTO incidents (id, org_id, host_id, policy_id, status, severity, title, timeline,
                                   opened_by_scan_id, created_at, updated_at)
            SELECT n.id, n.org_id, n.host_id, n.policy_id, 'open', n.severity,
                   left(h.hostname || ': ' || n.summary, 500), jsonb_build_array(n.entry), n.scan_id, now(), now()
            FROM unnest(CAST(:id AS uuid[]), CAST(:org AS uuid[]), CAST(:host AS uuid[]), CAST(:policy AS uuid[]),
                        CAST(:scan AS uuid[]), CAST(:severity AS text[]), CAST(:summary AS text[]),
                        CAST(:opened AS jsonb[])) AS n(id, org_id, host_id, policy_id, scan_id, severity, summary,
                                                      entry)
            JOIN hosts h ON h.id = n.host_id
            WHERE NOT EXISTS (SELECT 1 FROM incidents i WHERE i.opened_by_scan_id = n.scan_id)
            ON CONFLICT (host_id, policy_id) WHERE status = 'open' DO NOTHING
        """), columns)
        # A new statement sees an incident that a concurrent recording committed while our insert waited.
        await session.execute(text(f"""
            UPDATE incidents i SET timeline = i.timeline || jsonb_build_array(n.entry),
                   severity = CASE WHEN n.severity = 'critical' THEN 'critical' ELSE i.severity END,
                   updated_at = now()
            FROM unnest(CAST(:host AS uuid[]), CAST(:policy AS uuid[]), CAST(:scan AS uuid[]),
                        CAST(:severity AS text[]), CAST(:repeated AS jsonb[]))
                 AS n(host_id, policy_id, scan_id, severity, entry)
            WHERE i.host_id = n.host_id AND i.policy_id = n.policy_id AND i.status = 'open'
              AND NOT {_SCAN_IN_TIMELINE}
        """), columns)

    # A scan without a score (nothing applicable, every check errored) or an incomplete one proves nothing and
    # resolves nothing; nor does a clean scan of a host+policy without an open incident (most of them).
    opened = {(v.scan.host_id, v.scan.policy_id) for v in triggered}
    clean = [v for v in verdicts if not v.reasons and v.scan.score is not None and not v.scan.incomplete
             and (v.open_incident or (v.scan.host_id, v.scan.policy_id) in opened)]
    if clean:
        await session.execute(text(f"""
            UPDATE incidents i SET status = 'resolved', resolved_at = n.at, resolved_by_scan_id = n.scan_id,
                   timeline = i.timeline || jsonb_build_array(n.entry), updated_at = now()
            FROM unnest(CAST(:host AS uuid[]), CAST(:policy AS uuid[]), CAST(:scan AS uuid[]),
                        CAST(:at AS timestamptz[]), CAST(:entry AS jsonb[]))
                 AS n(host_id, policy_id, scan_id, at, entry)
            WHERE i.host_id = n.host_id AND i.policy_id = n.policy_id AND i.status = 'open'
              AND NOT {_SCAN_IN_TIMELINE}
              AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(i.timeline) AS e
                              WHERE e ->> 'scan_id' IS NOT NULL AND CAST(e ->> 'at' AS timestamptz) > n.at)
        """), {"host": [v.scan.host_id for v in clean], "policy": [v.scan.policy_id for v in clean],
               "scan": [v.scan.scan_id for v in clean], "at": [v.scan.completed_at for v in clean],
               "entry": [v.timeline_entry("resolved") for v in clean]})


# People work incidents and alerts. Each action is one conditional UPDATE, so it cannot lose a timeline entry that
# a scan recording appends at the same moment, and a person's entry carries no scan id (the recording's guards
# look only at scan entries).

def person_entry(event: str, actor: User, now: datetime, **details) -> dict:
    return {"at": now.isoformat(), "event": event, "by": actor.username, "user_id": str(actor.id)} | {
        key: value for key, value in details.items() if value is not None}


async def _work(session: AsyncSession, incident: Incident, entry: dict, *, open_only: bool, **columns) -> None:
    values = {"timeline": Incident.timeline.op("||")(func.jsonb_build_array(literal(entry, JSONB))),
              "updated_at": func.now(), **columns}
    stmt = update(Incident).where(Incident.id == incident.id)
    if open_only:
        stmt = stmt.where(Incident.status == "open")
    done = await session.execute(stmt.values(**values).returning(Incident.id))
    if done.first() is None:
        raise Conflict("the incident is already resolved")
    await session.refresh(incident)


async def acknowledge_incident(session: AsyncSession, incident: Incident, actor: User, now: datetime) -> bool:
    """Returns False when it was already acknowledged (nothing changes)."""
    if incident.status != "open":
        raise Conflict("the incident is already resolved")
    if incident.acknowledged_at is not None:
        return False
    await _work(session, incident, person_entry("acknowledged", actor, now), open_only=True,
                acknowledged_at=now, acknowledged_by=actor.id)
    return True


async def assign_incident(session: AsyncSession, incident: Incident, actor: User, assignee: uuid.UUID | None,
                          now: datetime) -> None:
    """Assign to a member of the incident's organization, or unassign (None)."""
    name = None
    if assignee is not None:
        name = await session.scalar(
            select(User.username).join(Membership, Membership.user_id == User.id)
            .where(User.id == assignee, Membership.org_id == incident.org_id, User.is_active))
        if name is None:
            raise Unprocessable([{"loc": ["body", "user_id"], "type": "not_a_member",
                                  "msg": "the assignee must be an active member of the incident's organization"}])
    await _work(session, incident, person_entry("assigned", actor, now, assigned_to=name), open_only=True,
                assigned_to=assignee)


async def comment_on_incident(session: AsyncSession, incident: Incident, actor: User, comment: str,
                              now: datetime) -> None:
    await _work(session, incident, person_entry("comment", actor, now, comment=comment), open_only=False)


async def resolve_incident(session: AsyncSession, incident: Incident, actor: User, note: str, now: datetime) -> None:
    await _work(session, incident, person_entry("resolved", actor, now, note=note), open_only=True,
                status="resolved", resolved_at=now, resolved_by=actor.id, resolution_note=note)


async def acknowledge_alert(session: AsyncSession, alert: Alert, actor: User, now: datetime) -> bool:
    """Returns False when it was already acknowledged (nothing changes)."""
    done = await session.execute(
        update(Alert).where(Alert.id == alert.id, Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=actor.id, updated_at=func.now()).returning(Alert.id))
    if done.first() is None:
        return False
    await session.refresh(alert)
    return True
