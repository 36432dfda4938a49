#!/usr/bin/env python3
"""The yardstick of issue 22: a straightforward Python implementation of the Maildir intake.

    python3 benches/city_python.py DB.sqlite MAILDIR

What someone would write with the standard library in an afternoon: for each file in
MAILDIR/new (oldest name first) parse it with `email` (policy.default, which decodes the
headers and the body), take the arrival time from the topmost Received: line, look up the
sender and that day's approved order in the zaitaku SQLite database with `sqlite3`, decide
start or end by the keywords 開始 / 終了 (Subject first, the body's unquoted lines for a reply),
insert a row into `reports` (its unique message key makes a re-delivery a duplicate), and after
each commit of 2,000 move the files to cur/ with the seen flag. No answers are written. Prints
the counts by reason as JSON.

`cargo bench --bench city` times it on the same Maildir as `zaitaku ingest`.
"""

import email
import email.policy
import email.utils
import json
import os
import sqlite3
import sys
import unicodedata
from datetime import timedelta, timezone

JST = timezone(timedelta(hours=9))
BATCH = 2000
QUOTE_STARTS = ("-----Original Message-----", "差出人:", "From:")


def arrival_of(msg):
    received = msg.get_all("Received") or []
    if received:
        try:
            return email.utils.parsedate_to_datetime(str(received[0]).rsplit(";", 1)[1].strip())
        except (IndexError, TypeError, ValueError):
            pass
    return email.utils.parsedate_to_datetime(str(msg["Date"]))


def kind_of(text):
    start, end = "開始" in text, "終了" in text
    if start and not end:
        return "start"
    if end and not start:
        return "end"
    return None


def classify(subject, body):
    subject = unicodedata.normalize("NFKC", subject or "")
    reply = subject.lower().startswith("re:")
    lines = []
    for line in unicodedata.normalize("NFKC", body or "").splitlines():
        line = line.strip()
        if line.startswith(">") or line.startswith(QUOTE_STARTS) or line.endswith(":"):
            break
        if line:
            lines.append(line)
    first = [kind_of(line) for line in lines[:5]]
    body_kind = next((k for k in first if k), None)
    if reply:
        return body_kind or kind_of(subject) or "unclassified"
    return kind_of(subject) or body_kind or "unclassified"


def main():
    db_path, maildir = sys.argv[1], sys.argv[2]
    db = sqlite3.connect(db_path)
    new, cur = os.path.join(maildir, "new"), os.path.join(maildir, "cur")
    counts = {}
    done = []
    for n, name in enumerate(sorted(os.listdir(new)), 1):
        with open(os.path.join(new, name), "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        arrival = arrival_of(msg)
        day = arrival.astimezone(JST).date().isoformat()
        sender = email.utils.parseaddr(str(msg["From"] or ""))[1].lower()
        subject = str(msg["Subject"] or "")
        part = msg.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        message_id = str(msg["Message-ID"] or "").strip().strip("<>")
        row = db.execute("SELECT employee_id FROM employee_emails WHERE email = ?", (sender,)).fetchone()
        employee, order, kind = row[0] if row else None, None, "unclassified"
        auto = str(msg["Auto-Submitted"] or "no").strip().lower() != "no"
        if employee is None:
            reason = "unknown_sender"
        elif auto:
            reason = "auto_reply"
        else:
            kind = classify(subject, body)
            order = db.execute(
                "SELECT id FROM orders WHERE employee_id = ? AND date = ? AND status = 'approved'",
                (employee, day),
            ).fetchone()
            reason = "unclassified" if kind == "unclassified" else ("matched" if order else "no_order")
        cursor = db.execute(
            "INSERT OR IGNORE INTO reports (message_key, message_id, source, received_at, day, sender,"
            " employee_id, kind, reason, order_id, subject) VALUES (?, ?, 'maildir', ?, ?, ?, ?, ?, ?, ?, ?)",
            ("mid:" + message_id, message_id, int(arrival.timestamp()), day, sender, employee, kind,
             reason, order[0] if order and reason == "matched" else None, subject),
        )
        reason = reason if cursor.rowcount == 1 else "duplicate"
        counts[reason] = counts.get(reason, 0) + 1
        done.append(name)
        if n % BATCH == 0:
            db.commit()
            for d in done:
                os.rename(os.path.join(new, d), os.path.join(cur, d + ":2,S"))
            done = []
    db.commit()
    for d in done:
        os.rename(os.path.join(new, d), os.path.join(cur, d + ":2,S"))
    print(json.dumps(counts, sort_keys=True))


if __name__ == "__main__":
    main()
