//! Taking mail in: files, standard input (a `.forward`/procmail pipe) and Maildir. Each message
//! is parsed, decided (`report::decide`), stored with the mail it causes in one transaction,
//! and only then marked done at its source. Messages are committed in batches so that a backlog
//! of thousands is not thousands of fsyncs; a crash loses no message, it only re-reads a batch,
//! whose Message-IDs are already stored.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::board::rfc3339;
use crate::calendar::local_date;
use crate::classify::{Classification, Kind};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::mail::maildir;
use crate::mail::parse::{Incoming, Unparseable, parse};
use crate::mail::template::Templates;
use crate::notice::Notice;
use crate::order::OrderStatus;
use crate::outbox::channel::{Channels, ReplyTarget};
use crate::outbox::{self, OutMail, OutRow};
use crate::report::{Decision, Facts, Reason, decide_classified, kind_label};
use crate::store::audit::Actor;
use crate::store::escalations::{NewEscalation, insert_escalations, resolve_audited};
use crate::store::reports::{NewReport, insert_report, insert_reports};
use crate::store::{ChatPlatform, Employee, OrderRow, Role, Store, Tx};
use crate::text::{clean, clean_line, for_log};

/// Messages per transaction: each commit waits for the disk (an fsync of the WAL), and a batch
/// of 2,000 holds about 6 MB, read and parsed.
pub const BATCH: usize = 2000;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub processed: usize,
    pub by_reason: BTreeMap<&'static str, usize>,
    pub duplicates: usize,
    pub mails_queued: usize,
    /// One entry per message, in input order, when asked for (`ingest --json`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Processed>,
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Processed {
    /// The file it came from, when it came from one.
    pub file: Option<String>,
    pub message_id: Option<String>,
    pub from: String,
    pub kind: Kind,
    /// `matched`, `no_order`, `unknown_sender`, `unclassified`, `auto_reply`, `unparseable`, or `duplicate`.
    pub reason: Disposition,
    pub employee_id: Option<String>,
    pub at: String,
    pub leave: bool,
    pub incident: bool,
}

/// What the intake did with a message: stored, for its reason, or skipped as one taken before
/// (the same Message-ID, file or chat event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Stored(Reason),
    Duplicate,
}

impl Disposition {
    /// The reason as `ingest --json` writes it, or `duplicate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Stored(r) => r.as_str(),
            Disposition::Duplicate => "duplicate",
        }
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Disposition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} message(s) processed", self.processed)?;
        for (k, v) in &self.by_reason {
            write!(f, ", {v} {k}")?;
        }
        if self.duplicates > 0 {
            write!(f, ", {} duplicate(s) skipped", self.duplicates)?;
        }
        write!(f, "; {} mail(s) queued", self.mails_queued)
    }
}

/// One message to take in, with where its arrival time may come from.
pub struct Raw {
    pub bytes: Vec<u8>,
    pub source: &'static str,
    /// `--received-at`: overrides everything.
    pub received_at: Option<DateTime<Utc>>,
    /// The Maildir delivery time: used when there is no `Received:` header.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Where it came from, for `ingest --json`.
    pub file: Option<String>,
    /// Parsed as it was read: a batch looks its senders' orders and counts up before any of
    /// its messages is decided (`look_up`), so every message must be parsed by then.
    pub parsed: std::result::Result<Incoming, Unparseable>,
    /// Its classification and the body's work summary (the unquoted lines), done with the
    /// parsing (`None`: it could not be parsed).
    pub class: Option<(Classification, String)>,
}

impl Raw {
    /// A message as its source read it, parsed and classified at once (`Raw::parsed` says why
    /// here and not later; a Maildir batch does it on the thread that reads the files).
    pub fn read(
        bytes: Vec<u8>,
        source: &'static str,
        received_at: Option<DateTime<Utc>>,
        delivered_at: Option<DateTime<Utc>>,
        file: Option<String>,
    ) -> Raw {
        let parsed = parse(&bytes);
        let class = parsed
            .as_ref()
            .ok()
            .map(|m| crate::classify::classify_with_summary(&m.subject, &m.body));
        Raw {
            bytes,
            source,
            received_at,
            delivered_at,
            file,
            parsed,
            class,
        }
    }
}

pub struct Ingestor<'a> {
    store: &'a Store,
    cfg: &'a Config,
    /// The chat channels: a department's rooms and the answer to a chat report.
    channels: &'a Channels,
    templates: Templates,
    /// Who is who: by address, chat identity and ID, and each department's supervisors.
    staff: std::sync::Arc<crate::store::staff::Staff>,
    /// Replies to chat messages answered in the request itself (slash commands), by message key.
    inline: HashMap<String, String>,
    /// Shared, not copied, with each message decided: an order holds a dozen strings.
    orders: HashMap<(String, NaiveDate), Option<std::sync::Arc<OrderRow>>>,
    /// The loop breaker: answers sent to (address, day), as committed, and those decided in
    /// the batch in hand.
    answers: HashMap<(String, String), u32>,
    pending_answers: HashMap<(String, String), u32>,
    /// (address, day) whose limit was reached, logged once.
    limited: HashSet<(String, String)>,
    pub summary: Summary,
    /// Keep a `Processed` per message (off for backlogs: memory stays flat).
    pub keep_details: bool,
    /// Orders and loop-breaker counts read for one message by itself, because the batch's
    /// look-up (`look_up`) did not have them: a statement each, where a batch needs one per
    /// day. The rush bench found every IMAP mail read this way (stop 33).
    looked_up_alone: usize,
}

impl<'a> Ingestor<'a> {
    pub async fn new(
        store: &'a Store,
        cfg: &'a Config,
        channels: &'a Channels,
    ) -> Result<Ingestor<'a>> {
        let staff = store.staff().await?;
        Ok(Ingestor {
            store,
            cfg,
            channels,
            staff,
            templates: Templates::layered(cfg.template_dirs()),
            inline: HashMap::new(),
            orders: HashMap::new(),
            answers: HashMap::new(),
            pending_answers: HashMap::new(),
            limited: HashSet::new(),
            summary: Summary::default(),
            keep_details: false,
            looked_up_alone: 0,
        })
    }

    /// How many orders and loop-breaker counts were read one message at a time so far (see
    /// the field): none, when every message of a batch was looked up with the batch.
    pub fn looked_up_alone(&self) -> usize {
        self.looked_up_alone
    }

    /// The employee with this chat user ID, if any.
    pub fn employee_by_chat(&self, platform: ChatPlatform, chat_id: &str) -> Option<&Employee> {
        self.staff.by_chat.get(&(platform, chat_id.to_string()))
    }

    async fn order(
        &mut self,
        tx: &mut Tx<'_>,
        employee: &str,
        day: NaiveDate,
    ) -> Result<Option<std::sync::Arc<OrderRow>>> {
        let key = (employee.to_string(), day);
        if let Some(o) = self.orders.get(&key) {
            return Ok(o.clone());
        }
        self.looked_up_alone += 1;
        let o = crate::store::order_in(tx, employee, day)
            .await?
            .filter(|o| o.status == OrderStatus::Approved)
            .map(std::sync::Arc::new);
        self.orders.insert(key, o.clone());
        Ok(o)
    }

    /// Looks up, for a batch of parsed messages, the orders and the loop breaker's counts of
    /// their senders on their days: one statement per day for each, instead of two per
    /// message. What the cache holds of other days is dropped, so that it does not grow with a
    /// backlog (the counts added since were committed with their batch).
    ///
    /// Everything here and below is read through the batch's own transaction `tx`, never a
    /// second connection from the pool: with as many batches open as the pool has connections,
    /// each would wait for a connection none of them gives back (`store::orders_for`).
    async fn look_up(&mut self, tx: &mut Tx<'_>, raws: &[Raw], now: DateTime<Utc>) -> Result<()> {
        let tz = self.cfg.timezone;
        // day → (employee IDs whose order is not cached, addresses whose count is not cached)
        let mut wanted: BTreeMap<NaiveDate, (HashSet<&str>, HashSet<String>)> = BTreeMap::new();
        for raw in raws {
            let Ok(m) = &raw.parsed else {
                continue;
            };
            let from = clean_line(&m.from);
            let Some(e) = self.staff.by_email.get(from.as_ref()) else {
                continue;
            };
            let day = local_date(arrival(raw, m.received, now), tz);
            let w = wanted.entry(day).or_default();
            if !self.orders.contains_key(&(e.employee_id.clone(), day)) {
                w.0.insert(&e.employee_id);
            }
            w.1.insert(from.into_owned());
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let days: HashSet<String> = wanted.keys().map(|d| d.to_string()).collect();
        self.orders.retain(|(_, d), _| wanted.contains_key(d));
        self.answers.retain(|(_, d), _| days.contains(d));
        self.limited.retain(|(_, d)| days.contains(d));
        for (day, (employees, addresses)) in wanted {
            if !employees.is_empty() {
                let employees: Vec<&str> = employees.into_iter().collect();
                let found = crate::store::orders_for(tx, day, &employees).await?;
                for e in employees {
                    self.orders.insert((e.to_string(), day), None);
                }
                for o in found {
                    let key = (o.employee_id.clone(), day);
                    let o = Some(o).filter(|o| o.status == OrderStatus::Approved);
                    self.orders.insert(key, o.map(std::sync::Arc::new));
                }
            }
            let d = day.to_string();
            let addresses: Vec<String> = addresses
                .into_iter()
                .filter(|a| !self.answers.contains_key(&(a.clone(), d.clone())))
                .collect();
            if !addresses.is_empty() {
                let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
                let found = crate::store::reports::answers_on(tx, &d, &refs).await?;
                for a in addresses {
                    self.answers.insert((a, d.clone()), 0);
                }
                for (a, n) in found {
                    self.answers.insert((a, d.clone()), n);
                }
            }
        }
        Ok(())
    }

    /// Processes one message inside `tx`.
    pub async fn process(&mut self, tx: &mut Tx<'_>, raw: &Raw, now: DateTime<Utc>) -> Result<()> {
        self.process_batch(tx, std::slice::from_ref(raw), now).await
    }

    /// Processes messages inside `tx`: each is decided on its own, then the batch's reports,
    /// notices and mails are stored with a few multi-row statements (each statement is a round
    /// trip to the database thread; one per message would cost more than the parsing).
    pub async fn process_batch(
        &mut self,
        tx: &mut Tx<'_>,
        raws: &[Raw],
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.look_up(tx, raws, now).await?;
        let mut prepared = Vec::with_capacity(raws.len());
        for raw in raws {
            if let Some(p) = self.prepare(tx, raw, now).await? {
                prepared.push(p);
            }
        }
        self.store_prepared(tx, prepared, now).await?;
        Ok(())
    }

    /// Stores a batch in one transaction and returns it open, for the source to save its
    /// position in before committing. When the database refuses the batch because of a value
    /// in one of its messages, the messages are stored one by one instead, each committed
    /// alone, and one refused even alone is set aside (`set_aside`): one message never holds
    /// up the others. Only a database that is away fails the call, and then the source reads
    /// the same batch again later (its Message-IDs make that harmless).
    pub async fn store_batch(&mut self, raws: &[Raw], now: DateTime<Utc>) -> Result<Tx<'static>> {
        let before = self.summary.clone();
        let mut tx = self.store.begin_write().await?;
        match self.process_batch(&mut tx, raws, now).await {
            Ok(()) => return Ok(tx),
            Err(e) if !refused_by_message(&e) => return Err(e),
            Err(e) => {
                tracing::warn!(messages = raws.len(), error = %for_log(&e.to_string(), 300),
                    "the database refused a batch; storing its messages one by one");
                drop(tx); // rolled back
                self.undo(before);
            }
        }
        for raw in raws {
            let before = self.summary.clone();
            let mut tx = self.store.begin_write().await?;
            match self.process(&mut tx, raw, now).await {
                Ok(()) => tx.commit().await?,
                Err(e) if refused_by_message(&e) => {
                    drop(tx);
                    self.undo(before);
                    let header_time = raw.parsed.as_ref().ok().and_then(|m| m.received);
                    let (from, subject) = match &raw.parsed {
                        Ok(m) => (m.from.clone(), m.subject.clone()),
                        Err(bad) => (bad.from.clone(), bad.subject.clone()),
                    };
                    let aside = SetAside {
                        key: format!("sha:{:016x}", crate::mail::parse::fnv1a(&raw.bytes)),
                        source: raw.source,
                        file: raw.file.clone(),
                        from,
                        subject,
                        why: format!("could not be stored: {e}"),
                        raw: Some(raw.bytes.clone()),
                        at: arrival(raw, header_time, now),
                    };
                    self.set_aside(aside).await?;
                }
                Err(e) => return Err(e),
            }
        }
        self.store.begin_write().await
    }

    /// `store_batch` for chat messages: returns the open transaction and what became of each.
    pub async fn store_chat(
        &mut self,
        msgs: &[ChatMessage],
        now: DateTime<Utc>,
    ) -> Result<(Tx<'static>, Vec<ChatOutcome>)> {
        let before = self.summary.clone();
        let mut tx = self.store.begin_write().await?;
        match self.process_chat(&mut tx, msgs, now).await {
            Ok(out) => return Ok((tx, out)),
            Err(e) if !refused_by_message(&e) => return Err(e),
            Err(e) => {
                tracing::warn!(messages = msgs.len(), error = %for_log(&e.to_string(), 300),
                    "the database refused a batch of chat messages; storing them one by one");
                drop(tx);
                self.undo(before);
                self.inline.clear();
            }
        }
        let mut outcomes = Vec::with_capacity(msgs.len());
        for msg in msgs {
            let before = self.summary.clone();
            let mut tx = self.store.begin_write().await?;
            match self
                .process_chat(&mut tx, std::slice::from_ref(msg), now)
                .await
            {
                Ok(mut out) => {
                    tx.commit().await?;
                    outcomes.append(&mut out);
                }
                Err(e) if refused_by_message(&e) => {
                    drop(tx);
                    self.undo(before);
                    self.inline.remove(&msg.key);
                    let aside = SetAside {
                        key: msg.key.clone(),
                        source: msg.source,
                        file: None,
                        from: msg.sender.clone(),
                        subject: String::new(),
                        why: format!("could not be stored: {e}"),
                        raw: Some(msg.text.clone().into_bytes()),
                        at: msg.at,
                    };
                    self.set_aside(aside).await?;
                    outcomes.push(ChatOutcome {
                        reason: Disposition::Stored(Reason::Unparseable),
                        reply: None,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok((self.store.begin_write().await?, outcomes))
    }

    /// After a transaction was rolled back: what it had counted is forgotten.
    fn undo(&mut self, before: Summary) {
        self.summary = before;
        self.forget_answers();
    }

    /// After a batch was rolled back: the loop breaker's counts are read again when needed.
    fn forget_answers(&mut self) {
        self.answers.clear();
        self.pending_answers.clear();
    }

    /// Answers to `key` (address, day) so far, committed and in the batch in hand.
    async fn answers_so_far(&mut self, tx: &mut Tx<'_>, key: &(String, String)) -> Result<u32> {
        let sent = match self.answers.get(key) {
            Some(n) => *n,
            None => {
                self.looked_up_alone += 1;
                let n = crate::store::reports::answers_sent(tx, &key.0, &key.1).await?;
                self.answers.insert(key.clone(), n);
                n
            }
        };
        Ok(sent + self.pending_answers.get(key).copied().unwrap_or(0))
    }

    /// Whether the city's mail server vouched for the sender (`[mail]
    /// trust_authentication_results`); always, when that is not set.
    fn vouched(&self, m: &Incoming) -> bool {
        let Some(id) = &self.cfg.mail.trust_authentication_results else {
            return true;
        };
        let domain = m.from.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        crate::mail::auth::vouched(&m.auth_results, id, domain)
    }

    /// Keeps a message that cannot be used as it is: recorded as `unparseable` with the reason
    /// and, when there are any, its raw bytes, for the board and IT's daily summary; one log
    /// line says which and why. Nothing is answered.
    pub async fn set_aside(&mut self, a: SetAside) -> Result<()> {
        let why = clean_line(&a.why).chars().take(300).collect::<String>();
        tracing::warn!(source = a.source, file = ?a.file.as_deref().map(|f| for_log(f, 200)),
            from = %for_log(&a.from, 100), reason = %for_log(&why, 300), "message set aside");
        let report = NewReport {
            message_key: clean_line(&a.key).into_owned(),
            source: a.source.to_string(),
            received_at: a.at,
            day: local_date(a.at, self.cfg.timezone).to_string(),
            sender: clean_line(&a.from).chars().take(254).collect(),
            kind: Kind::Unclassified,
            reason: Reason::Unparseable,
            subject: if a.subject.is_empty() {
                format!("({why})")
            } else {
                clean_line(&a.subject).chars().take(200).collect()
            },
            raw: a.raw,
            ..NewReport::default()
        };
        let mut tx = self.store.begin_write().await?;
        match insert_report(&mut tx, &report).await {
            Ok(id) => {
                tx.commit().await?;
                self.count(&report, Reason::Unparseable, id, a.file.as_deref());
            }
            Err(e) if refused_by_message(&e) => {
                // Even the bare record is refused: the log line is what is left, and the
                // message stays where it was kept (the quarantine folder, the mailbox).
                tracing::error!(error = %for_log(&e.to_string(), 300), "a message set aside could not be recorded");
                self.count(&report, Reason::Unparseable, Some(0), a.file.as_deref());
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Processes chat messages inside `tx` with the same rules as mail (source `chat`).
    /// Returns what became of each, in order: the reason (`duplicate` for one seen before)
    /// and, for a message answered in the request itself, the answer's text.
    pub async fn process_chat(
        &mut self,
        tx: &mut Tx<'_>,
        msgs: &[ChatMessage],
        now: DateTime<Utc>,
    ) -> Result<Vec<ChatOutcome>> {
        let mut prepared = Vec::with_capacity(msgs.len());
        let mut reasons = Vec::with_capacity(msgs.len());
        for msg in msgs {
            let employee = if msg.signed_in {
                self.staff.by_id.get(&msg.sender).cloned()
            } else {
                self.staff
                    .by_chat
                    .get(&(msg.platform, msg.sender.clone()))
                    .cloned()
            };
            let m = Incoming {
                message_id: None,
                key: msg.key.clone(),
                // The register's address when the chat user is known: the rules match by it.
                from: employee
                    .as_ref()
                    .and_then(|e| e.emails.first().map(|a| a.to_lowercase()))
                    .unwrap_or_else(|| msg.sender.clone()),
                subject: match (msg.signed_in, msg.text.split_once('\n')) {
                    (true, Some((first, _))) => first.to_string(),
                    (true, None) => msg.text.clone(),
                    (false, _) => String::new(),
                },
                body: match (msg.signed_in, msg.text.split_once('\n')) {
                    (true, Some((_, rest))) => clean(rest).into_owned(),
                    (true, None) => String::new(),
                    (false, _) => clean(&msg.text).into_owned(),
                },
                date_header: None,
                received: Some(msg.at),
                auto_reply: None,
                in_reply_to: msg.in_reply_to.clone(),
                references: vec![],
                auth_results: vec![],
            };
            // What the message changes in the register is the chat user's doing (the audit
            // trail's actor), or the signed-in employee's.
            let actor = if msg.signed_in {
                Actor::web(&msg.sender, None)
            } else {
                Actor::bot(format!("chat:{}", msg.sender))
            };
            let p = self
                .prepare_incoming(
                    tx,
                    Cow::Owned(m),
                    None,
                    msg.source,
                    msg.at,
                    None,
                    msg.reply.clone(),
                    Some(actor),
                )
                .await?;
            reasons.push(p.as_ref().map(|p| p.reason));
            prepared.extend(p);
        }
        let stored = self.store_prepared(tx, prepared, now).await?;
        Ok(msgs
            .iter()
            .zip(reasons)
            .map(|(msg, reason)| ChatOutcome {
                reason: match reason {
                    Some(r) if stored.contains(&msg.key) => Disposition::Stored(r),
                    Some(_) => Disposition::Duplicate,
                    None => Disposition::Stored(Reason::Resolution),
                },
                reply: self.inline.remove(&msg.key),
            })
            .collect())
    }

    /// A notice to the department's supervisors about a stored report: an escalation too (kind
    /// no_order or incident), recorded for the board and the survey and keyed by the report so
    /// it happens once, with its mail and its rows for the department's chat rooms, all under
    /// one Message-ID (a reply to the mail is matched against the escalation's).
    fn alert(
        &self,
        report: &NewReport,
        f: &Follow,
        notice: Notice,
        draft: Option<outbox::Draft>,
        report_id: i64,
        now: DateTime<Utc>,
    ) -> (NewEscalation, Vec<OutRow>) {
        if draft.is_none() {
            tracing::warn!(department = %f.employee.department, "no supervisor with an e-mail address to notify");
        }
        let kind = notice.escalation_kind().unwrap_or("incident");
        let cause = format!("{}.{report_id}", notice.purpose());
        let mid = outbox::message_id(self.cfg, &cause);
        let mut recipients: Vec<String> = self
            .supervisors(&f.employee.department)
            .iter()
            .map(|s| s.employee_id.clone())
            .collect();
        recipients.sort();
        let escalation = NewEscalation {
            key: format!("report:{report_id}:{kind}"),
            order_id: report.order_id,
            report_id: Some(report_id),
            day: report.day.clone(),
            kind: kind.into(),
            step: 1,
            due_at: report.received_at,
            fired_at: now,
            recipients,
            status: crate::escalation::StepStatus::Sent,
            message_id: Some(mid.clone()),
            repeat_no: 0,
        };
        let c = &f.ctx;
        let text = if notice == Notice::IncidentAlert {
            format!(
                "【至急】{} さんから事故・災害等の連絡（{} {}）\n件名: {}",
                c.name, c.date, c.at, c.subject
            )
        } else {
            format!(
                "【要確認】{} さんから勤務命令のない日（{}）の連絡\n件名: {}",
                c.name, c.date, c.subject
            )
        };
        let supervisors: Vec<&Employee> = self.supervisors(&f.employee.department).iter().collect();
        let mut rows = self.channels.department_rows(
            self.cfg,
            &mid,
            &cause,
            &f.employee.department,
            &supervisors,
            &text,
            now,
        );
        rows.extend(draft.map(|d| d.row_with_id(mid, &cause, Some(report_id))));
        (escalation, rows)
    }

    /// Stores decided messages with a few multi-row statements, and what they cause. Returns
    /// the keys of the messages stored now (the others were seen before).
    async fn store_prepared(
        &mut self,
        tx: &mut Tx<'_>,
        prepared: Vec<Prepared>,
        now: DateTime<Utc>,
    ) -> Result<HashSet<String>> {
        let reports: Vec<&NewReport> = prepared.iter().map(|p| &p.report).collect();
        // The answers are formatted while the database stores the reports (SQLite works on its
        // own thread); only their Message-IDs wait for the reports' ids.
        let (ids, drafts) = tokio::join!(insert_reports(tx, &reports), async {
            self.drafts(&prepared, now)
        });
        let ids = ids?;
        // The same message twice in one batch: the first is the report, the second a duplicate.
        let mut claimed = HashSet::new();
        let mut answered: HashMap<(String, String), u32> = HashMap::new();
        let mut mails = Vec::new();
        let mut notices = Vec::new();
        for (p, drafts) in prepared.into_iter().zip(drafts?) {
            let id = ids
                .get(&p.report.message_key)
                .copied()
                .filter(|_| claimed.insert(p.report.message_key.clone()));
            self.count(&p.report, p.reason, id, p.file.as_deref());
            let (Some(report_id), Some(f)) = (id, p.follow) else {
                continue;
            };
            tracing::info!(message_id = ?p.report.message_id, employee = %f.employee.employee_id,
                kind = %p.report.kind, reason = %p.report.reason, "report recorded");
            if let Some(answer) = f.reply {
                let template = answer.template();
                let cause = format!("{}.{report_id}", answer.purpose());
                match &p.reply_via {
                    ReplyVia::Mail => {
                        if drafts.reply.is_some() {
                            *answered
                                .entry((p.report.sender.clone(), p.report.day.clone()))
                                .or_default() += 1;
                        }
                        mails.extend(
                            drafts
                                .reply
                                .map(|d| d.row(self.cfg, &cause, Some(report_id))),
                        );
                    }
                    ReplyVia::Inline => {
                        let r = self.templates.render(template, &f.ctx)?;
                        self.inline
                            .insert(p.report.message_key.clone(), r.body.trim().to_string());
                    }
                    ReplyVia::Chat(target) => {
                        let r = self.templates.render(template, &f.ctx)?;
                        mails.extend(self.channels.reply_row(
                            self.cfg,
                            &cause,
                            target,
                            r.body.trim(),
                            now,
                        ));
                    }
                }
            }
            for (notice, draft) in f.notify.iter().zip(drafts.notify) {
                let (escalation, rows) = self.alert(&p.report, &f, *notice, draft, report_id, now);
                notices.push(escalation);
                mails.extend(rows);
            }
        }
        insert_escalations(tx, &notices).await?;
        self.summary.mails_queued += outbox::insert_rows(tx, &mails).await?;
        let answered: Vec<_> = answered.into_iter().collect();
        crate::store::reports::add_answers(tx, &answered).await?;
        for (key, n) in answered {
            *self.answers.entry(key).or_default() += n;
        }
        self.pending_answers.clear();
        Ok(claimed)
    }

    /// Decides one message. A supervisor's answer to an escalation is stored at once (it is
    /// rare and changes the escalation); everything else comes back to be stored with the batch.
    async fn prepare(
        &mut self,
        tx: &mut Tx<'_>,
        raw: &Raw,
        now: DateTime<Utc>,
    ) -> Result<Option<Prepared>> {
        let parsed = &raw.parsed;
        let tz = self.cfg.timezone;
        let header_time = parsed.as_ref().ok().and_then(|m| m.received);
        // The server's receipt time, never the sender's Date: a wrong laptop clock must not make
        // a late start on time.
        let arrival = arrival(raw, header_time, now);
        let day = local_date(arrival, tz);
        let file = raw.file.clone();
        let m = match parsed {
            Ok(m) => Cow::Borrowed(m),
            Err(bad) => {
                tracing::warn!(
                    reason = bad.reason,
                    source = raw.source,
                    "kept a message that cannot be used"
                );
                let report = NewReport {
                    message_key: clean_line(&bad.key).into_owned(),
                    source: raw.source.to_string(),
                    received_at: arrival,
                    day: day.to_string(),
                    sender: clean_line(&bad.from).into_owned(),
                    kind: Kind::Unclassified,
                    reason: Reason::Unparseable,
                    subject: if bad.subject.is_empty() {
                        format!("({})", bad.reason)
                    } else {
                        clean_line(&bad.subject).into_owned()
                    },
                    raw: Some(raw.bytes.clone()),
                    ..NewReport::default()
                };
                return Ok(Some(Prepared {
                    report,
                    reason: Reason::Unparseable,
                    file,
                    follow: None,
                    reply_via: ReplyVia::Mail,
                }));
            }
        };
        self.prepare_incoming(
            tx,
            m,
            raw.class.as_ref(),
            raw.source,
            arrival,
            file,
            ReplyVia::Mail,
            None,
        )
        .await
    }

    /// What the city's mail server and the loop breaker leave of a decision on a mail: a
    /// report the server did not vouch for (`require_authenticated_reports`) is recorded, not
    /// answered; an address that had its day's answers gets no more (RFC 3834 §2), whatever
    /// the mail looks like.
    async fn hold_back(
        &mut self,
        tx: &mut Tx<'_>,
        m: &Incoming,
        known: bool,
        day: NaiveDate,
        d: Decision,
    ) -> Result<Decision> {
        let silenced = |reason| Decision {
            reason,
            reply: None,
            notify: vec![],
            status: None,
            ..d.clone()
        };
        if self.cfg.mail.require_authenticated_reports
            && known
            && !matches!(d.reason, Reason::AutoReply | Reason::UnknownSender)
            && !self.vouched(m)
        {
            tracing::warn!(from = %for_log(&m.from, 100), "a report not vouched for by the city's mail server: recorded, not answered");
            return Ok(silenced(Reason::Unauthenticated));
        }
        if d.reply.is_none() {
            return Ok(d);
        }
        let key = (m.from.clone(), day.to_string());
        let limit = self.cfg.mail.max_answers_per_address_per_day;
        if self.answers_so_far(tx, &key).await? >= limit {
            if self.limited.insert(key.clone()) {
                tracing::warn!(to = %for_log(&m.from, 100), day = %key.1, limit,
                    "answers to this address stop for the day (loop breaker); later mail is recorded only");
            }
            return Ok(silenced(Reason::RateLimited));
        }
        *self.pending_answers.entry(key).or_default() += 1;
        Ok(d)
    }

    /// Decides one readable message (a mail, or a chat message put in the same shape).
    #[allow(clippy::too_many_arguments)]
    async fn prepare_incoming(
        &mut self,
        tx: &mut Tx<'_>,
        m: Cow<'_, Incoming>,
        class: Option<&(Classification, String)>,
        source: &'static str,
        arrival: DateTime<Utc>,
        file: Option<String>,
        reply_via: ReplyVia,
        actor: Option<Actor>,
    ) -> Result<Option<Prepared>> {
        let m = cleaned(m);
        let tz = self.cfg.timezone;
        let day = local_date(arrival, tz);
        let employee = self.staff.by_email.get(&m.from).cloned();
        if let Some(e) = employee
            .as_ref()
            .filter(|e| e.role == Role::Supervisor && m.auto_reply.is_none())
            && let Some(id) = self.answered_escalation(tx, e, &m).await?
        {
            let vouched = reply_via != ReplyVia::Mail || self.vouched(&m);
            // A mail's sender is its actor in the audit trail, as the bot acted on it.
            let actor = actor.unwrap_or_else(|| Actor::bot(format!("mail:{}", m.from)));
            self.record_resolution(
                tx,
                source,
                file.as_deref(),
                &m,
                (e, &actor),
                id,
                arrival,
                day,
                vouched,
            )
            .await?;
            return Ok(None);
        }
        let order = match &employee {
            Some(e) if m.auto_reply.is_none() => self.order(tx, &e.employee_id, day).await?,
            _ => None,
        };
        let read_here;
        let (class, summary) = match class {
            Some((c, s)) => (c.clone(), s.as_str()),
            None => {
                read_here = crate::classify::classify_with_summary(&m.subject, &m.body);
                (read_here.0.clone(), read_here.1.as_str())
            }
        };
        // Only the incident notice quotes the body: its summary, read with the classification.
        let quoted = if class.incident {
            summary.to_string()
        } else {
            String::new()
        };
        let mut d = decide_classified(
            &m,
            &Facts {
                employee: employee.as_ref(),
                order: order.as_deref(),
                arrival,
                tz,
                timing: &self.cfg.timing,
            },
            class,
            summary,
        );
        if reply_via == ReplyVia::Mail {
            d = self.hold_back(tx, &m, employee.is_some(), day, d).await?;
        }
        let report = NewReport {
            message_key: m.key.clone(),
            message_id: m.message_id.clone(),
            source: source.to_string(),
            received_at: arrival,
            date_header: m.date_header,
            day: day.to_string(),
            sender: m.from.clone(),
            employee_id: employee.as_ref().map(|e| e.employee_id.clone()),
            kind: d.class.kind,
            reason: d.reason,
            order_id: order
                .as_ref()
                .filter(|_| d.reason == Reason::Matched)
                .map(|o| o.id),
            leave_noted: d.class.leave,
            incident: d.class.incident,
            subject: m.subject.clone(),
            summary: d.summary.clone(),
            raw: None,
            recorded_by: None,
        };
        let follow = employee
            .filter(|_| d.reply.is_some() || !d.notify.is_empty())
            .map(|e| Follow {
                ctx: mail_context(
                    &m,
                    &e,
                    &d,
                    order.as_deref(),
                    (arrival, tz),
                    &reply_via,
                    quoted,
                ),
                employee: e,
                reply: d.reply,
                notify: d.notify.clone(),
                answering: (m.message_id.clone(), m.references.clone()),
            });
        Ok(Some(Prepared {
            report,
            reason: d.reason,
            file,
            follow,
            reply_via,
        }))
    }

    /// The escalation a supervisor's mail answers, if it answers one of their department's.
    async fn answered_escalation(
        &self,
        tx: &mut Tx<'_>,
        sup: &Employee,
        m: &Incoming,
    ) -> Result<Option<(i64, String)>> {
        let mut ids = m.in_reply_to.clone();
        ids.extend(m.references.iter().cloned());
        if ids.is_empty() {
            return Ok(None);
        }
        Ok(
            match crate::store::escalations::escalation_by_message_id(tx, &ids).await? {
                Some((order, kind, dept)) if dept == sup.department => Some((order, kind)),
                Some((_, _, dept)) => {
                    tracing::warn!(supervisor = %sup.employee_id, department = %dept,
                    "reply to another department's escalation ignored as a resolution");
                    None
                }
                None => None,
            },
        )
    }

    /// A supervisor's answer to an escalation: 確認済 / 電話連絡あり / ok resolve the chain;
    /// anything else is kept as an unclassified mail. Neither is answered.
    #[allow(clippy::too_many_arguments)]
    async fn record_resolution(
        &mut self,
        tx: &mut Tx<'_>,
        source: &str,
        file: Option<&str>,
        m: &Incoming,
        (sup, actor): (&Employee, &Actor),
        (order_id, kind): (i64, String),
        arrival: DateTime<Utc>,
        day: NaiveDate,
        vouched: bool,
    ) -> Result<Option<i64>> {
        let says_resolved =
            crate::classify::is_resolution(&m.body) || crate::classify::is_resolution(&m.subject);
        let resolves = says_resolved && vouched;
        let reason = if resolves {
            Reason::Resolution
        } else if says_resolved {
            // A From: anyone can write: the chain goes on, and IT sees the attempt.
            tracing::warn!(supervisor = %sup.employee_id, from = %for_log(&m.from, 100),
                "a reply resolving an escalation was not vouched for by the city's mail server; ignored");
            Reason::Unauthenticated
        } else {
            Reason::Unclassified
        };
        let r = NewReport {
            message_key: m.key.clone(),
            message_id: m.message_id.clone(),
            source: source.to_string(),
            received_at: arrival,
            date_header: m.date_header,
            day: day.to_string(),
            sender: m.from.clone(),
            employee_id: Some(sup.employee_id.clone()),
            kind: Kind::Unclassified,
            reason,
            subject: m.subject.clone(),
            ..NewReport::default()
        };
        let id = self.record(tx, &r, reason, file).await?;
        if id.is_some() && resolves {
            let n = resolve_audited(
                tx,
                order_id,
                &kind,
                (&sup.employee_id, "reply"),
                arrival,
                actor,
            )
            .await?;
            tracing::info!(order = order_id, kind = %kind, supervisor = %sup.employee_id, steps = n, "escalation resolved by reply");
        }
        Ok(id)
    }

    async fn record(
        &mut self,
        tx: &mut Tx<'_>,
        r: &NewReport,
        reason: Reason,
        file: Option<&str>,
    ) -> Result<Option<i64>> {
        let id = insert_report(tx, r).await?;
        self.count(r, reason, id, file);
        Ok(id)
    }

    fn count(&mut self, r: &NewReport, reason: Reason, id: Option<i64>, file: Option<&str>) {
        match id {
            Some(_) => {
                self.summary.processed += 1;
                *self.summary.by_reason.entry(reason.as_str()).or_default() += 1;
            }
            None => {
                self.summary.duplicates += 1;
                tracing::info!(key = %r.message_key, "duplicate message skipped");
            }
        }
        if self.keep_details {
            self.summary.messages.push(Processed {
                file: file.map(str::to_string),
                message_id: r.message_id.clone(),
                from: r.sender.clone(),
                kind: r.kind,
                reason: if id.is_some() {
                    Disposition::Stored(reason)
                } else {
                    Disposition::Duplicate
                },
                employee_id: r.employee_id.clone(),
                at: rfc3339(r.received_at, self.cfg.timezone),
                leave: r.leave_noted,
                incident: r.incident,
            });
        }
    }

    /// The supervisors of a department, by employee ID.
    fn supervisors(&self, department: &str) -> &[Employee] {
        self.staff
            .supervisors
            .get(department)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Renders and formats the mails each decided message causes, but for their Message-IDs.
    fn drafts(&self, prepared: &[Prepared], now: DateTime<Utc>) -> Result<Vec<Drafts>> {
        let mut all = Vec::with_capacity(prepared.len());
        for p in prepared {
            let mut d = Drafts::default();
            if let Some(f) = &p.follow {
                if let (Some(answer), ReplyVia::Mail) = (f.reply, &p.reply_via) {
                    let to = vec![p.report.sender.clone()];
                    let answering = Some(&f.answering);
                    d.reply = self.draft(answer, &f.ctx, to, answering, "auto-replied", now)?;
                }
                for notice in &f.notify {
                    let to = self
                        .supervisors(&f.employee.department)
                        .iter()
                        .filter_map(|s| s.emails.first().cloned())
                        .collect();
                    d.notify
                        .push(self.draft(*notice, &f.ctx, to, None, "auto-generated", now)?);
                }
            }
            all.push(d);
        }
        Ok(all)
    }

    /// Renders and formats one mail caused by a report, but for its Message-ID.
    fn draft(
        &self,
        notice: Notice,
        ctx: &MailContext,
        to: Vec<String>,
        answering: Option<&(Option<String>, Vec<String>)>,
        auto_submitted: &'static str,
        now: DateTime<Utc>,
    ) -> Result<Option<outbox::Draft>> {
        let rendered = self.templates.render(notice.template(), ctx)?;
        let mail = OutMail {
            purpose: notice.purpose().to_string(),
            // Set by `Draft::row` once the report is stored.
            report_id: None,
            cause: String::new(),
            to,
            subject: rendered.subject,
            body: rendered.body,
            in_reply_to: answering.and_then(|(id, _)| id.clone()),
            references: answering.map(|(_, refs)| refs.clone()).unwrap_or_default(),
            auto_submitted,
        };
        outbox::draft(self.cfg, &mail, now)
    }
}

/// The server's receipt time, never the sender's `Date:`: a wrong laptop clock must not make a
/// late start on time.
fn arrival(raw: &Raw, header_time: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    raw.received_at
        .or(header_time)
        .or(raw.delivered_at)
        .unwrap_or(now)
}

/// A message with the control characters taken out of its one-line values, which are stored,
/// compared or copied into a header (SPEC §4): PostgreSQL refuses NUL in text, and the rest
/// forge lines. The body is cleaned where it comes in: by `parse` for mail, by `process_chat`
/// for chat (once; it is the long part).
///
/// A message that needs none of it (nearly all) is not copied: the batch's messages are
/// borrowed from the source's, which may need them again (`store_batch`).
fn cleaned(m: Cow<'_, Incoming>) -> Cow<'_, Incoming> {
    let dirty = |s: &str| matches!(clean_line(s), Cow::Owned(_));
    let needed = [&m.key, &m.from, &m.subject]
        .into_iter()
        .chain(&m.in_reply_to)
        .chain(&m.references)
        .any(|s| dirty(s))
        || m.message_id
            .as_deref()
            .is_some_and(|id| id.is_empty() || dirty(id));
    if !needed {
        return m;
    }
    let mut m = m.into_owned();
    fn line(s: &mut String) {
        if let Cow::Owned(c) = clean_line(s) {
            *s = c;
        }
    }
    line(&mut m.key);
    line(&mut m.from);
    line(&mut m.subject);
    if let Some(id) = &mut m.message_id {
        line(id);
    }
    m.message_id = m.message_id.filter(|id| !id.is_empty());
    for id in m.in_reply_to.iter_mut().chain(m.references.iter_mut()) {
        line(id);
    }
    Cow::Owned(m)
}

/// Whether the database refused a statement because of a value in it (a message's text, a
/// constraint), rather than because it is away or busy. Such a refusal is the message's: it
/// is set aside and the rest go on. Anything else (no connection, a lock, a serialisation
/// failure) is the database's, and the batch is read again later.
pub fn refused_by_message(e: &Error) -> bool {
    match e {
        Error::Db(sqlx::Error::Database(d)) => {
            let code = d.code().unwrap_or_default();
            if let Ok(n) = code.parse::<i64>() {
                // SQLite's (extended) result code: TOOBIG, CONSTRAINT, MISMATCH, RANGE.
                matches!(n & 0xff, 18 | 19 | 20 | 25)
            } else {
                // PostgreSQL's SQLSTATE: data exceptions (22: NUL, bad encoding, too long),
                // integrity constraints (23), program limits (54: a row too big).
                code.starts_with("22") || code.starts_with("23") || code.starts_with("54")
            }
        }
        // A mail that cannot be drafted (an address the transport refuses), a template that
        // fails on this message's values, a value the rules refuse.
        Error::Mail(_) | Error::Template { .. } | Error::Bad { .. } => true,
        _ => false,
    }
}

/// What the answer and the notices to a report say of it.
fn mail_context(
    m: &Incoming,
    e: &Employee,
    d: &Decision,
    order: Option<&OrderRow>,
    (arrival, tz): (DateTime<Utc>, chrono_tz::Tz),
    reply_via: &ReplyVia,
    // The body's work summary, when the message names an incident (`classify`).
    quoted: String,
) -> MailContext {
    let subject = if !m.subject.is_empty() {
        m.subject.clone()
    } else if *reply_via != ReplyVia::Mail {
        // A chat message has no subject: its first line stands for it.
        m.body
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(40)
            .collect()
    } else {
        "(件名なし)".into()
    };
    MailContext {
        subject,
        name: e.name.clone(),
        employee_id: e.employee_id.clone(),
        department: e.department.clone(),
        kind_label: kind_label(d.class.kind),
        at: arrival.with_timezone(&tz).format("%H:%M").to_string(),
        date: local_date(arrival, tz).to_string(),
        order_start: order.map(|o| o.start.to_string()).unwrap_or_default(),
        order_end: order.map(|o| o.end.to_string()).unwrap_or_default(),
        status_label: d.status.map(|s| s.label_ja()).unwrap_or(""),
        leave: d.class.leave,
        incident: d.class.incident,
        chat: !matches!(reply_via, ReplyVia::Mail),
        // Only the incident notice quotes the body.
        body: if d.class.incident {
            quoted
        } else {
            String::new()
        },
    }
}

/// The mails one message causes, formatted but for their Message-IDs: the reply, and a notice
/// for each of `Follow::notify`, in order (`None` where there is no recipient).
#[derive(Default)]
struct Drafts {
    reply: Option<outbox::Draft>,
    notify: Vec<Option<outbox::Draft>>,
}

/// A message decided, waiting to be stored with its batch.
struct Prepared {
    report: NewReport,
    reason: Reason,
    file: Option<String>,
    /// What the report causes: replies and notices (none for strangers and automatic mail).
    follow: Option<Follow>,
    /// Where the reply goes.
    reply_via: ReplyVia,
}

/// A message that cannot be used, to be recorded as `unparseable` (`Ingestor::set_aside`).
pub struct SetAside {
    /// What makes it unique: processed once.
    pub key: String,
    pub source: &'static str,
    pub file: Option<String>,
    pub from: String,
    pub subject: String,
    /// Why it was set aside, for the board and the log.
    pub why: String,
    pub raw: Option<Vec<u8>>,
    pub at: DateTime<Utc>,
}

/// Where the answer to a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyVia {
    /// A mail to the sender, through the outbox.
    Mail,
    /// Returned to the caller (a slash command's HTTP answer).
    Inline,
    /// A message where the report was said (a room's thread), through the outbox, on the
    /// channel it came from.
    Chat(ReplyTarget),
}

/// A chat message to take in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// What makes it unique (`matrix:$event`, `slash:…`): processed once.
    pub key: String,
    pub source: &'static str,
    /// Whose IDs `sender` is one of.
    pub platform: ChatPlatform,
    /// The employee, when the sender is already known for certain (a signed-in web user or a
    /// bearer token: `sender` is their employee ID), not looked up by a chat ID. Its text's
    /// first line is then the subject (the button pressed: 業務開始, 業務終了) and the rest the
    /// body (the 日報), as in a mail.
    pub signed_in: bool,
    /// The chat user ID, matched against the employees' ID on `platform`.
    pub sender: String,
    pub text: String,
    /// The chat server's time for it.
    pub at: DateTime<Utc>,
    /// The Message-IDs of what it answers (a supervisor's 確認済 to an escalation we posted).
    pub in_reply_to: Vec<String>,
    pub reply: ReplyVia,
}

/// What became of a chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatOutcome {
    /// As `ingest --json`'s reason, or `duplicate`.
    pub reason: Disposition,
    /// The answer, when it is given inline.
    pub reply: Option<String>,
}

struct Follow {
    employee: Employee,
    ctx: MailContext,
    reply: Option<Notice>,
    notify: Vec<Notice>,
    /// The answered message's Message-ID and References.
    answering: (Option<String>, Vec<String>),
}

#[derive(Debug, Serialize)]
struct MailContext {
    subject: String,
    name: String,
    employee_id: String,
    department: String,
    kind_label: &'static str,
    at: String,
    date: String,
    order_start: String,
    order_end: String,
    status_label: &'static str,
    leave: bool,
    incident: bool,
    /// The answer goes to chat, not mail (the templates word it so).
    chat: bool,
    body: String,
}

/// `zaitaku ingest FILE…` and `zaitaku ingest -`.
pub async fn ingest_files(
    store: &Store,
    cfg: &Config,
    channels: &Channels,
    files: &[PathBuf],
    received_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    keep_details: bool,
) -> Result<Summary> {
    // Read everything first: a missing file is bad input and must change nothing.
    let mut raws = Vec::new();
    for f in files {
        let (bytes, source) = if f.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Error::io(Path::new("stdin"), e))?;
            (buf, "stdin")
        } else {
            match std::fs::read(f) {
                Ok(b) => (b, "file"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::bad(f.display().to_string(), "no such file"));
                }
                Err(e) => return Err(Error::io(f, e)),
            }
        };
        raws.push(Raw::read(
            bytes,
            source,
            received_at,
            None,
            Some(f.display().to_string()),
        ));
    }
    let mut ing = Ingestor::new(store, cfg, channels).await?;
    ing.keep_details = keep_details;
    for chunk in raws.chunks(BATCH) {
        ing.store_batch(chunk, now).await?.commit().await?;
    }
    Ok(ing.summary)
}

/// A batch of Maildir files read: the messages, the entries they came from, and the files that
/// could not be read (with why), to be set aside.
type Chunk = (Vec<Raw>, Vec<maildir::Entry>, Vec<(maildir::Entry, String)>);

/// Reads a batch of Maildir files; one that vanished meanwhile (another reader) is skipped, one
/// that cannot be read (permission, a link to nowhere or to a folder) is set aside.
fn read_chunk(folders: &maildir::Folders, chunk: Vec<maildir::Entry>, keep_details: bool) -> Chunk {
    let mut raws = Vec::with_capacity(chunk.len());
    let mut done = Vec::with_capacity(chunk.len());
    let mut unreadable = Vec::new();
    for e in chunk {
        let bytes = match folders.read(&e) {
            Ok(b) => b,
            Err(err)
                if err.kind() == std::io::ErrorKind::NotFound
                    && std::fs::symlink_metadata(&e.path).is_err() =>
            {
                continue;
            }
            Err(err) => {
                unreadable.push((e, err.to_string()));
                continue;
            }
        };
        // Parsing and classifying depend on the message alone: done here, on the reading
        // thread, beside the batch being stored.
        raws.push(Raw::read(
            bytes,
            "maildir",
            None,
            maildir::delivery_time(&e),
            keep_details.then(|| e.name.clone()),
        ));
        done.push(e);
    }
    (raws, done, unreadable)
}

/// Names of `new/` listed in one pass over the folder: a backlog is taken a slice at a time,
/// so that memory stays flat whatever its length (20,000 names are about 3 MB).
const LISTED: usize = 10 * BATCH;

/// A Maildir's `new/` in name order (the delivery order), listed a slice at a time: each pass
/// keeps the `LISTED` first names after the last one listed, and the next pass runs on a
/// blocking thread while the slice before is being taken in. A message delivered meanwhile
/// with a later name is taken in this run too; one with an earlier name, at the next.
struct Listing {
    dir: PathBuf,
    queue: std::collections::VecDeque<maildir::Entry>,
    /// The last name listed so far: the next pass starts after it.
    last: Option<String>,
    pass: Option<tokio::task::JoinHandle<Result<Vec<maildir::Entry>>>>,
    /// A pass found fewer names than it could keep: the folder has been listed to its end.
    done: bool,
}

impl Listing {
    fn new(dir: &Path) -> Listing {
        Listing {
            dir: dir.to_path_buf(),
            queue: std::collections::VecDeque::new(),
            last: None,
            pass: None,
            done: false,
        }
    }

    fn start_pass(&mut self) {
        if self.pass.is_some() || self.done {
            return;
        }
        let (dir, after) = (self.dir.clone(), self.last.clone());
        self.pass = Some(tokio::task::spawn_blocking(move || {
            maildir::list_after(&dir, after.as_deref(), LISTED)
        }));
    }

    /// The next at most `BATCH` messages, in name order; empty at the end.
    async fn next_batch(&mut self) -> Result<Vec<maildir::Entry>> {
        // The next pass starts when two batches are left: each pass reads every name still
        // in `new/`, so starting it at half the slice made twice the passes (issue 22), and
        // two batches leave it time enough to run beside them.
        if self.queue.len() < 2 * BATCH {
            self.start_pass();
        }
        if self.queue.len() < BATCH
            && let Some(h) = self.pass.take()
        {
            let more = h
                .await
                .map_err(|e| Error::Mail(format!("listing the maildir: {e}")))??;
            self.done = more.len() < LISTED;
            if let Some(e) = more.last() {
                self.last = Some(e.name.clone());
            }
            self.queue.extend(more);
        }
        let n = self.queue.len().min(BATCH);
        Ok(self.queue.drain(..n).collect())
    }
}

/// `zaitaku ingest --maildir DIR`: the new messages, moved to `cur/` once committed.
pub async fn ingest_maildir(
    store: &Store,
    cfg: &Config,
    channels: &Channels,
    dir: &Path,
    now: DateTime<Utc>,
    keep_details: bool,
) -> Result<Summary> {
    maildir::check(dir)?;
    let mut listing = Listing::new(dir);
    let mut ing = Ingestor::new(store, cfg, channels).await?;
    ing.keep_details = keep_details;
    // Three stages overlap on the machine's cores: the next batch's files are read while this
    // batch is decided and committed, and the last batch's files move to cur/ meanwhile.
    let folders = std::sync::Arc::new(maildir::Folders::open(dir)?);
    let read = |chunk: Vec<maildir::Entry>| {
        let folders = folders.clone();
        tokio::task::spawn_blocking(move || read_chunk(&folders, chunk, keep_details))
    };
    // Two batches are read ahead, so that a slow one does not leave the database waiting.
    let mut reading = std::collections::VecDeque::new();
    for _ in 0..2 {
        let chunk = listing.next_batch().await?;
        if !chunk.is_empty() {
            reading.push_back(read(chunk));
        }
    }
    let mut moving: Option<tokio::task::JoinHandle<Result<()>>> = None;
    while let Some(h) = reading.pop_front() {
        let (raws, done, unreadable) = h
            .await
            .map_err(|e| Error::Mail(format!("reading the maildir: {e}")))?;
        let chunk = listing.next_batch().await?;
        if !chunk.is_empty() {
            reading.push_back(read(chunk));
        }
        // Recorded first, then moved: a crash between finds the record and only moves it.
        for (e, why) in unreadable {
            let at = maildir::delivery_time(&e).unwrap_or(now);
            ing.set_aside(SetAside {
                key: format!("file:{}", e.name),
                source: "maildir",
                file: Some(e.name.clone()),
                from: String::new(),
                subject: String::new(),
                why: format!("cannot be read: {why}"),
                raw: None,
                at,
            })
            .await?;
            maildir::quarantine(dir, &e)?;
        }
        ing.store_batch(&raws, now).await?.commit().await?;
        if let Some(m) = moving.take() {
            m.await
                .map_err(|e| Error::Mail(format!("moving to cur/: {e}")))??;
        }
        let folders = folders.clone();
        moving = Some(tokio::task::spawn_blocking(move || {
            let moved = done.iter().try_for_each(|e| folders.mark_done(e));
            // Freed here, not on the batch's task: the reading threads allocated them, and
            // freeing another thread's memory was 4 % of that task (issue 22).
            drop(raws);
            moved
        }));
    }
    if let Some(m) = moving {
        m.await
            .map_err(|e| Error::Mail(format!("moving to cur/: {e}")))??;
    }
    Ok(ing.summary)
}
