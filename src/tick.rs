//! Everything due at one moment: escalation steps, supervisors' digests, outbox delivery.
//! `zaitaku tick --now T` and the daemon call this same function; the daemon only decides when.
//! Each step and each digest is claimed with a unique key in the same transaction as its mail,
//! so repeated ticks, restarts and several daemons on one database send it once.
//!
//! One bad item never stops the rest (as healthchecks' alert loop pushes a failing check on
//! instead of crashing): a step or digest whose mail cannot be made (a template that does not
//! render, an address the transport refuses) is recorded as failed with the reason, shown on
//! the board and in `/metrics`, and the other steps, digests and deliveries go on. Only the
//! database being unavailable ends a tick early, after the other parts have had their turn.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::board::Board;
use crate::calendar::local_date;
use crate::config::{Config, Recipient};
use crate::error::{Error, Result};
use crate::escalation::{Chain, ChainState, StepStatus, due_steps};
use crate::mail::template::Templates;
use crate::mail::transport::Transport;
use crate::notice::Notice;
use crate::order::{OrderStatus, expected_hours};
use crate::outbox::channel::{ChannelKind, Channels};
use crate::outbox::{self, Delivery, Failed, OutMail, OutRow};
use crate::store::escalations::{NewEscalation, claim_digest, insert_escalation, set_failed};
use crate::store::{Employee, OrderRow, Role, Store};

/// How many days back a tick looks for unfired steps (to record them as expired).
const LOOKBACK_DAYS: i64 = 7;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub steps_sent: usize,
    pub steps_expired: usize,
    pub digests: usize,
    /// Steps and digests whose mail could not be made (recorded as failed, shown on the board).
    pub failed: usize,
    pub delivery: Delivery,
    /// `[retention]`: what today's run blanked (`None`: not configured, or run before today).
    pub retention: Option<crate::store::audit::Purged>,
}

impl fmt::Display for TickReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "escalations: {} sent, {} expired; digests: {}; {}",
            self.steps_sent, self.steps_expired, self.digests, self.delivery
        )?;
        if self.failed > 0 {
            write!(f, "; {} failed (see the board)", self.failed)?;
        }
        if let Some(p) = self.retention.filter(|p| p.reports + p.mails > 0) {
            write!(
                f,
                "; retention: the text of {} report(s) and {} mail(s) blanked",
                p.reports, p.mails
            )?;
        }
        Ok(())
    }
}

/// One tick at `now`: the escalation steps that fall due, the digests of the slot, then
/// delivery (through `transport` and `channels`, the ones the process built at its start).
pub async fn tick(
    store: &Store,
    cfg: &Config,
    transport: &Transport,
    channels: &Channels,
    now: DateTime<Utc>,
) -> Result<TickReport> {
    tick_with(store, cfg, (transport, channels), now, true).await
}

/// [`tick`], delivering the outbox only when `deliver`: a daemon standing by for a city leaves
/// it to the daemon reading the city's mailbox, whose delivery loop sends what this tick made.
pub async fn tick_with(
    store: &Store,
    cfg: &Config,
    (transport, channels): (&Transport, &Channels),
    now: DateTime<Utc>,
    deliver: bool,
) -> Result<TickReport> {
    let templates = Templates::layered(cfg.template_dirs());
    let mut report = TickReport::default();
    // Mail a process of this host claimed before it died goes out now, not when its lease ends.
    outbox::release_dead_leases(store, now).await?;
    // Each part has its turn even when one before it failed (the database went away for a
    // moment): the first error is returned once all have run.
    let escalated = escalate(store, cfg, channels, &templates, now, &mut report).await;
    let digested = digests(store, cfg, channels, &templates, now, &mut report).await;
    let delivered = if deliver {
        outbox::deliver_with(store, transport, channels, cfg, now).await
    } else {
        Ok(Default::default())
    };
    let retained = retention(store, cfg, now).await;
    for (part, r) in [("escalations", &escalated), ("digests", &digested)] {
        if let Err(e) = r {
            tracing::error!(part, error = %e, "tick: part failed; the others went on");
        }
    }
    if let Err(e) = &retained {
        tracing::error!(part = "retention", error = %e, "tick: part failed; the others went on");
    }
    escalated?;
    digested?;
    report.delivery = delivered?;
    report.retention = retained?;
    Ok(report)
}

/// `[retention] bodies_days`, once a day (the first tick of the day in the city's time
/// zone): the mail bodies and 日報 text of days more than that many days ago are blanked, as
/// `zaitaku purge` does, but never after the current fiscal year's first day (its survey
/// waves may still need them). The audit entry says what was blanked, with the process's user
/// as the actor and `daemon` as the way.
pub async fn retention(
    store: &Store,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<Option<crate::store::audit::Purged>> {
    let Some(days) = cfg.retention_days else {
        return Ok(None);
    };
    let tz = cfg.timezone;
    let today = local_date(now, tz);
    let fy_start = crate::calendar::fiscal_year_bounds(crate::calendar::fiscal_year(today)).0;
    let before = (today - Duration::days(i64::from(days))).min(fy_start);
    let start = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(tz).earliest())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    };
    let day = (start(today), start(today + Duration::days(1)));
    let actor = crate::store::audit::Actor::process();
    let r = store
        .expire_bodies(before, start(before), day, days, &actor, now)
        .await?;
    if let Some(p) = r.filter(|p| p.reports + p.mails > 0) {
        tracing::info!(before = %before, reports = p.reports, mails = p.mails, "retention: old text blanked");
    }
    Ok(r)
}

/// Whether an error is the item's own (set it aside, go on) rather than the database's (stop:
/// the next tick tries again).
fn item_error(e: Error) -> Result<String> {
    match e {
        Error::Db(_) | Error::Migrate(_) => Err(e),
        other => Ok(other.to_string()),
    }
}

/// Whether the mail row is a mail nobody can receive (every recipient refused).
fn all_refused(rows: &[OutRow]) -> Option<String> {
    rows.iter()
        .find(|r| {
            r.channel == ChannelKind::Mail && r.envelope_to.is_empty() && !r.refused.is_empty()
        })
        .map(|r| {
            r.refused
                .iter()
                .map(|(_, e)| e.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        })
}

/// One escalation step that falls due now, with what it needs to be sent.
struct DueStep<'a> {
    order: &'a OrderRow,
    employee: &'a Employee,
    chain: Chain,
    /// The chain's steps (for the time of the next one) and its state.
    steps: &'a [crate::config::Step],
    state: &'a ChainState,
    due: crate::escalation::Due,
    recipients: Vec<&'a Employee>,
}

impl DueStep<'_> {
    fn key(&self) -> String {
        crate::escalation::sending_key(self.order.id, self.chain, &self.due)
    }

    fn cause(&self) -> String {
        format!("escalation.{}", self.key())
    }

    fn notice(&self) -> Notice {
        Notice::EscalationStep(self.due.to)
    }

    fn to(&self) -> Vec<String> {
        self.recipients
            .iter()
            .filter_map(|e| e.emails.first().cloned())
            .collect()
    }
}

async fn escalate(
    store: &Store,
    cfg: &Config,
    channels: &Channels,
    templates: &Templates,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> Result<()> {
    let tz = cfg.timezone;
    let today = local_date(now, tz);
    let from = today - Duration::days(LOOKBACK_DAYS);
    let facts = store.chain_facts(from, today).await?;
    // The directory kept while nobody changed it: a daemon of 455 cities ticks each a minute.
    let kept = store.staff().await?;
    let staff = &kept.by_id;
    let mut day = from;
    while day <= today {
        // On a day the city hall is closed (土日, 祝日, 年末年始, the city's own days) nobody is
        // chased, except for an order a supervisor approved for that very day (holiday_ok): that
        // is ordered work, and its reports are expected like any other's.
        let closed = cfg.calendar.closed_reason(day).is_some();
        for o in store.orders_on(day).await? {
            if closed && !o.holiday_ok {
                continue;
            }
            let Some(employee) = staff.get(&o.employee_id) else {
                continue;
            };
            let (exp_start, exp_end) = expected_hours(o.start, o.end, &o.leave);
            for (chain, expected, steps) in [
                (
                    Chain::MissingStart,
                    exp_start,
                    &cfg.escalation.missing_start,
                ),
                (Chain::MissingEnd, exp_end, &cfg.escalation.missing_end),
            ] {
                let key = (o.id, chain.as_str().to_string());
                let state = ChainState {
                    date: o.date,
                    expected: expected.on(o.date, tz).with_timezone(&Utc),
                    reported: facts
                        .reported
                        .contains(&(o.id, chain.report_kind().to_string())),
                    resolved: facts.resolved.contains(&key),
                    cancelled: o.status != OrderStatus::Approved,
                    fired: facts.fired.get(&key).cloned().unwrap_or_default(),
                    repeated: facts.repeated.get(&key).cloned().unwrap_or_default(),
                };
                for due in due_steps(steps, &state, cfg.timing.grace, now, today) {
                    let step = DueStep {
                        order: &o,
                        employee,
                        chain,
                        steps,
                        state: &state,
                        recipients: recipients(staff, employee, due.to),
                        due,
                    };
                    fire_step(store, cfg, channels, templates, &step, now, report).await?;
                }
            }
        }
        day += Duration::days(1);
    }
    Ok(())
}

/// The mail (and, for the supervisors, the department's chat rows) of a step, with the
/// Message-ID its escalation records.
fn step_rows(
    cfg: &Config,
    channels: &Channels,
    templates: &Templates,
    s: &DueStep<'_>,
    message_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<OutRow>> {
    let (o, employee, d, tz) = (s.order, s.employee, &s.due, cfg.timezone);
    let next_at = s
        .steps
        .get(d.step as usize)
        .map(|next| {
            hhmm(
                s.state.expected + cfg.timing.grace + Duration::minutes(next.after_minutes.into()),
                tz,
            )
        })
        .unwrap_or_default();
    let word = if s.chain == Chain::MissingStart {
        "業務開始"
    } else {
        "業務終了"
    };
    let ctx = StepContext {
        step: d.step,
        to: d.to.as_str(),
        kind_label: word,
        word,
        report_kind: s.chain.report_kind(),
        name: employee.name.clone(),
        employee_id: employee.employee_id.clone(),
        department: employee.department.clone(),
        date: o.date.to_string(),
        order_start: o.start.to_string(),
        order_end: o.end.to_string(),
        content: o.content.clone(),
        deadline: hhmm(s.state.expected + cfg.timing.grace, tz),
        next_at,
        reminded: if s.state.fired.contains(&1) || d.step > 1 {
            "送信済み"
        } else {
            "未"
        },
        repeat: d.repeat,
    };
    let r = templates.render(s.notice().template(), &ctx)?;
    let cause = s.cause();
    // The supervisors' step goes to the department's chat rooms as well.
    let mut rows = if d.to == Recipient::Supervisors {
        let text = format!(
            "{}\n勤務命令 {}〜{} {}",
            r.subject, o.start, o.end, o.content
        );
        channels.department_rows(
            cfg,
            message_id,
            &cause,
            &employee.department,
            &s.recipients,
            &text,
            now,
        )
    } else {
        vec![]
    };
    let mail = OutMail::generated(s.notice().purpose(), cause, s.to(), r);
    rows.extend(outbox::build_with_id(
        cfg,
        &mail,
        message_id.to_string(),
        now,
    )?);
    Ok(rows)
}

/// Records one due step and queues what it sends, in one transaction. The mail is made before
/// the step is recorded: a step whose mail cannot be made is recorded as failed, with why, and
/// the chain goes on to the next. A step another tick or daemon recorded first is left alone.
async fn fire_step(
    store: &Store,
    cfg: &Config,
    channels: &Channels,
    templates: &Templates,
    s: &DueStep<'_>,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> Result<()> {
    let (o, d) = (s.order, &s.due);
    // Made once: the escalation records it, the mail carries it, a reply names it.
    let message_id = (!d.expired).then(|| outbox::message_id(cfg, &s.cause()));
    let made = match &message_id {
        None => Ok(vec![]),
        Some(mid) => step_rows(cfg, channels, templates, s, mid, now),
    };
    let (rows, failure) = match made {
        Ok(rows) => {
            let failure = all_refused(&rows);
            (rows, failure.map(|f| (f, None)))
        }
        Err(e) => {
            let why = item_error(e)?;
            let failed = Failed {
                cause: s.cause(),
                message_id: message_id.clone().unwrap_or_default(),
                purpose: s.notice().purpose().into(),
                report_id: None,
                to: s.to().join(", "),
                subject: format!(
                    "{} {} {} 第{}段階",
                    crate::board::escalation_ja(s.chain.as_str()),
                    s.employee.name,
                    o.date,
                    d.step
                ),
                error: why.clone(),
                at: now,
            };
            (vec![], Some((why, Some(failed))))
        }
    };
    let mut tx = store.begin().await?;
    let e = NewEscalation {
        key: s.key(),
        order_id: Some(o.id),
        day: o.date.to_string(),
        kind: s.chain.as_str().into(),
        step: d.step.into(),
        due_at: d.at,
        fired_at: now,
        recipients: s.recipients.iter().map(|e| e.employee_id.clone()).collect(),
        status: if d.expired {
            StepStatus::Expired
        } else {
            StepStatus::Sent
        },
        message_id,
        repeat_no: d.repeat.into(),
        ..NewEscalation::default()
    };
    let Some(id) = insert_escalation(&mut tx, &e).await? else {
        return Ok(()); // another tick or daemon recorded it: nothing more to do
    };
    let (chain, step, to) = (s.chain.as_str(), d.step, d.to.as_str());
    if d.expired {
        report.steps_expired += 1;
        tracing::info!(
            order = o.id,
            chain,
            step,
            "overdue step of a past day recorded as expired"
        );
    } else {
        if s.to().is_empty() {
            tracing::warn!(
                order = o.id,
                step,
                to,
                "escalation step has nobody with an e-mail address"
            );
        }
        outbox::insert_rows(&mut tx, &rows).await?;
        match failure {
            None => {
                report.steps_sent += 1;
                tracing::info!(order = o.id, chain, step, to, "escalation step fired");
            }
            Some((why, failed)) => {
                set_failed(&mut tx, id, &why).await?;
                outbox::insert_failed(&mut tx, failed.as_slice()).await?;
                report.failed += 1;
                tracing::warn!(order = o.id, chain, step, error = %why,
                    "escalation step failed; set aside, the rest go on");
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

fn recipients<'a>(
    staff: &'a HashMap<String, Employee>,
    teleworker: &'a Employee,
    to: Recipient,
) -> Vec<&'a Employee> {
    let mut v: Vec<&Employee> = match to {
        Recipient::Teleworker => vec![teleworker],
        Recipient::Supervisors => staff
            .values()
            .filter(|e| e.role == Role::Supervisor && e.department == teleworker.department)
            .collect(),
        Recipient::Hr => staff.values().filter(|e| e.role == Role::Hr).collect(),
    };
    v.sort_by(|a, b| a.employee_id.cmp(&b.employee_id));
    v
}

fn hhmm(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%H:%M").to_string()
}

#[derive(Serialize)]
struct StepContext {
    step: u32,
    to: &'static str,
    kind_label: &'static str,
    word: &'static str,
    report_kind: &'static str,
    name: String,
    employee_id: String,
    department: String,
    date: String,
    order_start: String,
    order_end: String,
    content: String,
    deadline: String,
    next_at: String,
    reminded: &'static str,
    /// 0 for the step's first mail; n for its n-th repeat (`repeat_minutes`).
    repeat: u32,
}

/// The latest digest time of `today` that is not after `now` (a tick that runs late catches up
/// with that one; an earlier slot it also missed would only say less, so it is not sent).
pub fn digest_slots(cfg: &Config, now: DateTime<Utc>) -> Vec<String> {
    let tz = cfg.timezone;
    let local_now = now.with_timezone(&tz);
    let today = local_now.date_naive();
    let Some(midnight) = today.and_hms_opt(0, 0, 0) else {
        return vec![];
    };
    let Some(start) = midnight.and_local_timezone(tz).earliest() else {
        return vec![];
    };
    let start = start - Duration::seconds(1);
    let mut slots = Vec::new();
    for (_, sched) in &cfg.digest.schedules {
        let last = sched
            .after(&start)
            .take_while(|t| *t <= local_now && t.date_naive() == today)
            .last();
        if let Some(t) = last {
            slots.push(t.format("%H:%M").to_string());
        }
    }
    slots.sort();
    slots.split_off(slots.len().saturating_sub(1))
}

/// One department's digest at one slot.
struct Digest<'a> {
    board: &'a Board,
    department: &'a str,
    today: NaiveDate,
    slot: &'a str,
    /// The department's supervisors' addresses.
    to: Vec<String>,
    /// The department's supervisors, for a chat channel that reaches them one by one.
    supervisors: Vec<&'a Employee>,
}

/// Claims the digest's slot and queues it, in one transaction. A digest that cannot be made is
/// recorded as failed (claimed: the next slot's digest says more anyway) and the other
/// departments' go on; a slot another tick or daemon claimed first is left alone.
async fn send_digest(
    store: &Store,
    cfg: &Config,
    channels: &Channels,
    templates: &Templates,
    g: &Digest<'_>,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> Result<()> {
    let (dept, slot, today) = (g.department, g.slot, g.today);
    let cause = format!(
        "digest.{today}.{}.{}",
        slot.replace(':', ""),
        crate::mail::parse::fnv1a(dept.as_bytes())
    );
    let mid = outbox::message_id(cfg, &cause);
    let mut tx = store.begin().await?;
    if !claim_digest(&mut tx, &today.to_string(), slot, dept, now, &mid).await? {
        return Ok(());
    }
    let made: Result<Vec<OutRow>> = (|| {
        let ctx = digest_context(g.board, dept, today, slot, cfg.timezone);
        let r = templates.render(Notice::Digest.template(), &ctx)?;
        let text = format!("{}\n\n{}", r.subject, r.body);
        let mut rows =
            channels.department_rows(cfg, &mid, &cause, dept, &g.supervisors, &text, now);
        let mail = OutMail::generated(Notice::Digest.purpose(), cause.clone(), g.to.clone(), r);
        rows.extend(outbox::build_with_id(cfg, &mail, mid.clone(), now)?);
        Ok(rows)
    })();
    let failure = match made {
        Ok(rows) => {
            outbox::insert_rows(&mut tx, &rows).await?;
            all_refused(&rows)
        }
        Err(e) => {
            let why = item_error(e)?;
            let failed = Failed {
                cause: cause.clone(),
                message_id: mid.clone(),
                purpose: Notice::Digest.purpose().into(),
                report_id: None,
                to: g.to.join(", "),
                subject: format!("在宅勤務 {dept} {today} {slot}"),
                error: why.clone(),
                at: now,
            };
            outbox::insert_failed(&mut tx, &[failed]).await?;
            Some(why)
        }
    };
    tx.commit().await?;
    match failure {
        None => {
            report.digests += 1;
            tracing::info!(department = %dept, slot = %slot, "digest queued");
        }
        Some(why) => {
            report.failed += 1;
            tracing::warn!(department = %dept, slot = %slot, error = %why, "digest failed; set aside, the rest go on");
        }
    }
    Ok(())
}

async fn digests(
    store: &Store,
    cfg: &Config,
    channels: &Channels,
    templates: &Templates,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> Result<()> {
    let slots = digest_slots(cfg, now);
    if slots.is_empty() {
        return Ok(());
    }
    let today = local_date(now, cfg.timezone);
    let board = crate::usecase::board::load(store, cfg, today, now).await?;
    let kept = store.staff().await?;
    let staff = &kept.by_id;
    if is_last_slot_of_day(cfg, now) {
        it_summary(
            store, cfg, templates, &board, staff, today, &slots[0], now, report,
        )
        .await?;
    }
    if board.teleworkers.is_empty() {
        return Ok(()); // no digest for a day without orders
    }
    let mut departments: Vec<&str> = board
        .teleworkers
        .iter()
        .map(|t| t.department.as_str())
        .collect();
    departments.sort();
    departments.dedup();
    // A closed day has a digest only for the departments with an order approved for it
    // (holiday_ok), the same orders the escalation chains follow that day.
    if cfg.calendar.closed_reason(today).is_some() {
        departments.retain(|d| {
            board
                .teleworkers
                .iter()
                .any(|t| t.department == *d && t.holiday_ok)
        });
    }
    for slot in &slots {
        for dept in &departments {
            let to: Vec<String> = staff
                .values()
                .filter(|e| e.role == Role::Supervisor && e.department == *dept)
                .filter_map(|e| e.emails.first().cloned())
                .collect();
            if to.is_empty() {
                tracing::warn!(department = %dept, "no supervisor with an e-mail address for the digest");
                continue;
            }
            let supervisors: Vec<&Employee> = staff
                .values()
                .filter(|e| e.role == Role::Supervisor && e.department == *dept)
                .collect();
            let digest = Digest {
                board: &board,
                department: dept,
                today,
                slot,
                to,
                supervisors,
            };
            send_digest(store, cfg, channels, templates, &digest, now, report).await?;
        }
    }
    Ok(())
}

/// Whether the digest slot just passed is the day's last one (when IT gets its summary).
fn is_last_slot_of_day(cfg: &Config, now: DateTime<Utc>) -> bool {
    let local_now = now.with_timezone(&cfg.timezone);
    let today = local_now.date_naive();
    !cfg.digest.schedules.iter().any(|(_, sched)| {
        sched
            .after(&local_now)
            .next()
            .is_some_and(|t| t.date_naive() == today)
    })
}

/// IT's daily summary (SPEC §4): the mail that matched no order — strangers, automatic mail,
/// unclassified and unusable mail — and mail that could not be delivered. Sent with the day's
/// last digest, once, to the employees with role `it`; nothing when there is nothing to say.
/// What IT's summary lists of the day's unusable mail: each message, but the loop breaker's,
/// which is said once per address, with how many.
fn it_rows(board: &Board) -> (Vec<ItRow>, Vec<LimitedRow>) {
    let mut limited: Vec<LimitedRow> = Vec::new();
    for u in board
        .unmatched
        .iter()
        .filter(|u| u.reason == crate::report::Reason::RateLimited)
    {
        match limited.iter_mut().find(|l| l.from == u.from) {
            Some(l) => l.count += 1,
            None => limited.push(LimitedRow {
                from: u.from.clone(),
                count: 1,
            }),
        }
    }
    let unmatched: Vec<ItRow> = board
        .unmatched
        .iter()
        .filter(|u| u.reason != crate::report::Reason::RateLimited)
        .map(|u| ItRow {
            at: crate::board::clock_time(&u.at).unwrap_or_default(),
            reason: u.reason.ja().to_string(),
            from: u.from.clone(),
            subject: u.subject.clone(),
        })
        .collect();
    (unmatched, limited)
}

#[allow(clippy::too_many_arguments)]
async fn it_summary(
    store: &Store,
    cfg: &Config,
    templates: &Templates,
    board: &Board,
    staff: &HashMap<String, Employee>,
    today: NaiveDate,
    slot: &str,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> Result<()> {
    let (_, _, failed) = outbox::counts(store).await?;
    let (unmatched, limited) = it_rows(board);
    if unmatched.is_empty() && limited.is_empty() && failed == 0 {
        return Ok(());
    }
    let mut to: Vec<String> = staff
        .values()
        .filter(|e| e.role == Role::It)
        .filter_map(|e| e.emails.first().cloned())
        .collect();
    to.sort();
    if to.is_empty() {
        tracing::warn!("no employee with role it and an e-mail address for IT's daily summary");
        return Ok(());
    }
    let cause = format!("it-summary.{today}");
    let mid = outbox::message_id(cfg, &cause);
    let mut tx = store.begin().await?;
    if !claim_digest(&mut tx, &today.to_string(), slot, "(it)", now, &mid).await? {
        return Ok(());
    }
    let made: Result<Option<OutRow>> = (|| {
        let r = templates.render(
            Notice::ItSummary.template(),
            minijinja::context! {
                date => today.to_string(), unmatched => unmatched, failed => failed,
                limited => limited, limit => cfg.mail.max_answers_per_address_per_day,
            },
        )?;
        let mail = OutMail::generated(Notice::ItSummary.purpose(), cause.clone(), to.clone(), r);
        outbox::build_with_id(cfg, &mail, mid.clone(), now)
    })();
    match made {
        Ok(row) => {
            let rows: Vec<OutRow> = row.into_iter().collect();
            outbox::insert_rows(&mut tx, &rows).await?;
            if let Some(why) = all_refused(&rows) {
                tx.commit().await?;
                report.failed += 1;
                tracing::warn!(error = %why, "IT summary failed; set aside");
                return Ok(());
            }
        }
        Err(e) => {
            let why = item_error(e)?;
            let failed = Failed {
                cause: cause.clone(),
                message_id: mid.clone(),
                purpose: Notice::ItSummary.purpose().into(),
                report_id: None,
                to: to.join(", "),
                subject: format!("IT summary {today}"),
                error: why.clone(),
                at: now,
            };
            outbox::insert_failed(&mut tx, &[failed]).await?;
            tx.commit().await?;
            report.failed += 1;
            tracing::warn!(error = %why, "IT summary failed; set aside");
            return Ok(());
        }
    }
    tx.commit().await?;
    report.digests += 1;
    tracing::info!(
        unmatched = board.unmatched.len(),
        failed,
        "IT summary queued"
    );
    Ok(())
}

/// An address the loop breaker stopped answering that day, and how many of its mails were
/// recorded without an answer.
#[derive(Debug, Serialize)]
struct LimitedRow {
    from: String,
    count: usize,
}

#[derive(Serialize)]
struct ItRow {
    at: String,
    reason: String,
    from: String,
    subject: String,
}

#[derive(Serialize)]
struct DigestContext {
    date: String,
    slot: String,
    department: String,
    teleworkers: Vec<DigestRow>,
}

#[derive(Serialize)]
struct DigestRow {
    name: String,
    employee_id: String,
    order: crate::board::Hours,
    shifted: bool,
    content: String,
    start_label: String,
    end_label: String,
    leave: Vec<crate::board::Span>,
    escalations: Vec<Labelled>,
    incident: bool,
    summary: Option<String>,
    summary_lines: Vec<String>,
}

#[derive(Serialize)]
struct Labelled {
    label: String,
}

fn digest_context(
    board: &Board,
    dept: &str,
    date: NaiveDate,
    slot: &str,
    tz: chrono_tz::Tz,
) -> DigestContext {
    let _ = tz;
    let label = |s: &crate::board::Slot| match &s.at {
        Some(at) => format!(
            "{} {}{}",
            crate::board::clock_time(at).unwrap_or_default(),
            crate::board::status_ja(s.status),
            s.source
                .as_deref()
                .filter(|x| *x == "phone")
                .map(|_| "（電話）")
                .unwrap_or("")
        ),
        None => crate::board::status_ja(s.status).to_string(),
    };
    DigestContext {
        date: date.to_string(),
        slot: slot.to_string(),
        department: dept.to_string(),
        teleworkers: board
            .teleworkers
            .iter()
            .filter(|t| t.department == dept)
            .map(|t| DigestRow {
                name: t.name.clone(),
                employee_id: t.employee_id.clone(),
                order: t.order.clone(),
                shifted: t.shifted,
                content: t.content.clone(),
                start_label: label(&t.start),
                end_label: label(&t.end),
                leave: t.leave.clone(),
                escalations: t
                    .escalations
                    .iter()
                    .map(|e| Labelled {
                        label: format!(
                            "{} 第{}段階 {}（{}）",
                            crate::board::escalation_ja(&e.kind),
                            e.step,
                            crate::board::clock_time(&e.at).unwrap_or_default(),
                            e.status
                        ),
                    })
                    .collect(),
                incident: t.incident,
                summary: t.summary.clone(),
                summary_lines: t
                    .summary
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .map(str::to_string)
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn digest_slots_are_the_days_cron_times_already_passed() {
        let cfg = Config::embedded();
        assert!(digest_slots(&cfg, at("2021-01-12T09:59:59+09:00")).is_empty());
        assert_eq!(
            digest_slots(&cfg, at("2021-01-12T10:00:00+09:00")),
            ["10:00"]
        );
        assert_eq!(
            digest_slots(&cfg, at("2021-01-12T17:44:00+09:00")),
            ["10:00"]
        );
        assert_eq!(
            digest_slots(&cfg, at("2021-01-12T23:00:00+09:00")),
            ["17:45"]
        );
        // A Saturday has none (Mon-Fri).
        assert!(digest_slots(&cfg, at("2021-01-16T12:00:00+09:00")).is_empty());
        // A weekday holiday has its cron times; `digests` decides by the calendar what to send.
        assert_eq!(
            digest_slots(&cfg, at("2021-02-11T12:00:00+09:00")),
            ["10:00"]
        );
    }
}
