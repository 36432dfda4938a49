#!/usr/bin/env python3
"""The data set of `cargo bench --bench city` (issue 22): a city's register and its mail.

    python3 benches/city_mail.py SPEC.json OUTDIR

`benches/city.rs` writes SPEC.json (seed, sizes, the 46 departments, the city hall's working
days from zaitaku's own calendar) and calls this script when its cache has no copy of the
result. Everything is drawn from `random.Random(seed)`, so the same spec gives the same bytes.
OUTDIR receives:

- `employees.csv`: the teleworkers over the departments, a few supervisors per department,
  one IT and one HR member (`zaitaku employees import`);
- `orders.csv`: approved orders over the working days (`zaitaku orders import`);
- `mail/`: one file per message, named as a Maildir delivery names them
  (`EPOCH.M…P….host`, EPOCH the arrival time, so the sorted names are the arrival order);
- `manifest.json`: how many of each kind were written, and what zaitaku should decide.

The mail is written by Python's `email` package, the encoders real mail clients use
(MIMEText, MIMEMultipart, email.header.Header, email.charset): ISO-2022-JP 7bit as Outlook and
Thunderbird write it, UTF-8 in base64, UTF-8 in quoted-printable, and multipart/alternative with
an HTML part, in the spec's shares. A third of the mail quotes an earlier one (an end report
answering the morning's start, in Outlook's or Gmail's style), subjects and bodies carry
full-width letters and digits, and the spec's shares of strangers, reports on a day without an
order, automatic replies (Auto-Submitted) and re-deliveries (the same message, same
Message-ID, a second time through another MX) are mixed in.
"""

import csv
import json
import os
import random
import sys
from datetime import datetime, timedelta, timezone
from email import charset as email_charset
from email import utils
from email.generator import BytesGenerator
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.message import Message
from email.policy import compat32
from io import BytesIO

JST = timezone(timedelta(hours=9))

SURNAMES = [
    ("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"),
    ("伊藤", "ito"), ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura"),
    ("小林", "kobayashi"), ("加藤", "kato"), ("吉田", "yoshida"), ("山田", "yamada"),
    ("佐々木", "sasaki"), ("山口", "yamaguchi"), ("松本", "matsumoto"), ("井上", "inoue"),
    ("木村", "kimura"), ("林", "hayashi"), ("斎藤", "saito"), ("清水", "shimizu"),
    ("山崎", "yamazaki"), ("森", "mori"), ("池田", "ikeda"), ("橋本", "hashimoto"),
    ("阿部", "abe"), ("石川", "ishikawa"), ("山下", "yamashita"), ("中島", "nakajima"),
    ("石井", "ishii"), ("小川", "ogawa"), ("前田", "maeda"), ("岡田", "okada"),
    ("長谷川", "hasegawa"), ("藤田", "fujita"), ("後藤", "goto"), ("近藤", "kondo"),
    ("村上", "murakami"), ("遠藤", "endo"), ("青木", "aoki"), ("坂本", "sakamoto"),
]
GIVEN = [
    ("太郎", "taro"), ("花子", "hanako"), ("一郎", "ichiro"), ("美咲", "misaki"),
    ("健", "ken"), ("直子", "naoko"), ("大輔", "daisuke"), ("陽子", "yoko"),
    ("翔太", "shota"), ("由美", "yumi"), ("拓也", "takuya"), ("恵", "megumi"),
    ("誠", "makoto"), ("裕子", "yuko"), ("浩", "hiroshi"), ("智子", "tomoko"),
    ("和也", "kazuya"), ("真由美", "mayumi"), ("亮", "ryo"), ("結衣", "yui"),
]
# Order contents and 日報 lines: none holds a start, end, leave or incident word.
TASKS = [
    "予算資料の作成", "議会答弁案の確認", "条例改正案の読み合わせ", "補助金申請書の審査",
    "統計データの集計", "市民アンケートの分析", "契約書類の点検", "会議資料の準備",
    "要綱の改正案作成", "事業計画書の見直し", "オンライン研修の受講", "広報誌の原稿作成",
    "窓口マニュアルの改訂", "決算見込みの整理", "システム移行手順書の作成", "問い合わせ回答案の作成",
]
START_SUBJECTS = [
    "業務開始", "在宅勤務開始", "業務開始します", "始業の連絡", "【在宅勤務】業務開始",
    "【在宅勤務】業務開始（{md}）", "本日の在宅勤務を開始します", "ＳＴＡＲＴ", "業務開始　（{md}）",
]
END_SUBJECTS = [
    "業務終了", "在宅勤務終了", "業務終了します", "終業の連絡", "【在宅勤務】業務終了",
    "【在宅勤務】業務終了（{md}）", "本日の在宅勤務を終了します", "在宅勤務終了報告",
]
MAILERS = [
    ("X-Mailer", "Microsoft Outlook 16.0"),
    ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:78.0) Gecko/20100101 Thunderbird/78.6.0"),
    ("X-Mailer", "Microsoft Outlook 14.0"),
    ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:52.0) Gecko/20100101 Thunderbird/52.9.1"),
    ("X-Mailer", "Becky! ver. 2.75.03 [ja]"),
]
WEEKDAYS = "月火水木金土日"


def fullwidth(s):
    """ASCII digits, letters and punctuation as their full-width forms (what an IME types)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def charset(name, body, header):
    cs = email_charset.Charset(name)
    cs.body_encoding = body
    cs.header_encoding = header
    return cs


UTF8_B64 = charset("utf-8", email_charset.BASE64, email_charset.BASE64)
UTF8_QP = charset("utf-8", email_charset.QP, email_charset.QP)
JIS = "iso-2022-jp"  # Python's own: 7bit body, B-encoded headers, the iso2022_jp codec


class World:
    def __init__(self, spec):
        self.spec = spec
        self.rng = random.Random(spec["seed"])
        self.domain = spec["domain"]
        self.bot = spec["bot"]
        self.days = [datetime.strptime(d, "%Y-%m-%d").date() for d in spec["days"]]
        self.employees = []  # dicts
        self.by_dept = {}
        self.mail_seq = 0
        self.counts = {}
        self.expect = {}

    # ------------------------------------------------------------------ register

    def register(self):
        rng = self.rng
        depts = self.spec["departments"]
        used = set()

        def person(eid, dept, role):
            sn, sr = rng.choice(SURNAMES)
            gn, gr = rng.choice(GIVEN)
            local = f"{gr}.{sr}"
            n = 1
            while local in used:
                n += 1
                local = f"{gr}.{sr}{n}"
            used.add(local)
            e = {"id": eid, "surname": sn, "name": sn + gn, "email": f"{local}@{self.domain}",
                 "dept": dept, "role": role}
            self.employees.append(e)
            self.by_dept.setdefault(dept, []).append(e)
            return e

        # Departments differ in size: a weight per department, then each teleworker drawn.
        weights = [rng.uniform(0.4, 1.6) for _ in depts]
        for i in range(self.spec["teleworkers"]):
            dept = depts[i] if i < len(depts) else rng.choices(depts, weights)[0]
            person(f"T{i + 1:05d}", dept, "teleworker")
        self.supervisors = {}
        k = 0
        for dept in depts:
            for _ in range(self.spec["supervisors_per_department"]):
                k += 1
                self.supervisors.setdefault(dept, []).append(person(f"S{k:04d}", dept, "supervisor"))
        person("IT0001", depts[0], "it")
        person("HR0001", depts[0], "hr")
        self.teleworkers = [e for e in self.employees if e["role"] == "teleworker"]

    def orders(self):
        rng = self.rng
        total = self.spec["orders"]
        per_day = [total // len(self.days)] * len(self.days)
        for i in range(total - sum(per_day)):
            per_day[i] += 1
        self.order_list = []  # (day, employee, start_min, end_min, shifted, leave, content)
        self.ordered = set()
        for day, n in zip(self.days, per_day):
            for e in sorted(rng.sample(self.teleworkers, n), key=lambda e: e["id"]):
                r = rng.random()
                if r < 0.10:
                    start, end, shifted, leave = 540, 1065, True, ""  # 09:00-17:45, 割振り変更
                elif r < 0.15:
                    start, end, shifted, leave = 510, 1035, False, "13:00-15:00"  # 時間休
                else:
                    start, end, shifted, leave = 510, 1035, False, ""
                content = rng.choice(TASKS)
                self.order_list.append((day, e, start, end, shifted, leave, content))
                self.ordered.add((e["id"], day))

    def write_register(self, out):
        with open(os.path.join(out, "employees.csv"), "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["employee_id", "name", "email", "department", "role"])
            for e in self.employees:
                w.writerow([e["id"], e["name"], e["email"], e["dept"], e["role"]])
        with open(os.path.join(out, "orders.csv"), "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["employee_id", "date", "start", "end", "content", "approved_by", "shifted", "leave"])
            for day, e, start, end, shifted, leave, content in self.order_list:
                hm = lambda m: f"{m // 60:02d}:{m % 60:02d}"
                w.writerow([e["id"], day.isoformat(), hm(start) if shifted else "",
                            hm(end) if shifted else "", content,
                            self.supervisors[e["dept"]][0]["id"], "true" if shifted else "", leave])

    # ------------------------------------------------------------------ mail

    def count(self, key, n=1):
        self.counts[key] = self.counts.get(key, 0) + n

    def expected(self, key, n=1):
        self.expect[key] = self.expect.get(key, 0) + n

    def at(self, day, minutes, jitter_s):
        t = datetime(day.year, day.month, day.day, tzinfo=JST) + timedelta(minutes=minutes, seconds=jitter_s)
        return t

    def md(self, day, wide):
        s = f"{day.month}/{day.day}"
        return fullwidth(s) if wide else f"{day.month}月{day.day}日"

    def signature(self, e):
        return f"\n--\n{e['dept']}　{e['name']}\n内線 {fullwidth(str(2000 + int(e['id'][1:]) % 7000))}\n"

    def start_text(self, e, day, leave):
        rng = self.rng
        lines = [f"{e['dept']}の{e['surname']}です。"]
        lines.append(rng.choice([
            "本日の在宅勤務を開始します。", "業務を開始いたします。", "ただいまから業務開始します。",
            f"本日（{fullwidth(str(day.month))}月{fullwidth(str(day.day))}日）の業務を開始します。",
        ]))
        if leave:
            # 「〜」, not a full-width hyphen: ISO-2022-JP (JIS X 0208) has no U+FF0D.
            lines.append(f"なお、{fullwidth(leave).replace('－', '〜')} は時間休を取得します。")
        lines.append("よろしくお願いいたします。")
        return "\n".join(lines) + "\n" + self.signature(e)

    def end_text(self, e, day):
        rng = self.rng
        lines = [rng.choice([
            "本日の業務を終了します。", "業務終了いたします。", "これで在宅勤務を終了します。",
            "お疲れ様です。本日の業務を終了しました。",
        ]), "", "【本日の業務内容】"]
        for t in rng.sample(TASKS, rng.randint(1, 4)):
            lines.append(f"・{t}（{fullwidth(str(rng.randint(1, 9)))}件）")
        lines.append("")
        lines.append("以上、よろしくお願いいたします。")
        return "\n".join(lines) + "\n" + self.signature(e)

    def leaf(self, text, enc, html=None):
        """The body, encoded the way the chosen mailer does."""
        if enc == "jis":
            try:
                text.encode("iso2022_jp")
            except UnicodeEncodeError:
                self.count("jis_fell_back_to_base64")
                enc = "b64"
        self.count(f"encoding_{enc}")
        if enc == "jis":
            return MIMEText(text, "plain", JIS), JIS
        if enc == "b64":
            return MIMEText(text, "plain", UTF8_B64), UTF8_B64
        if enc == "qp":
            return MIMEText(text, "plain", UTF8_QP), UTF8_QP
        alt = MIMEMultipart("alternative", boundary=f"----=_Part_{self.rng.getrandbits(48):012x}")
        cs = UTF8_B64 if self.rng.random() < 0.5 else UTF8_QP
        alt.attach(MIMEText(text, "plain", cs))
        alt.attach(MIMEText(html, "html", cs))
        return alt, cs

    def html(self, text):
        body = "".join(f"<p>{line or '&nbsp;'}</p>\n" for line in text.split("\n"))
        return ("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">"
                f"</head>\n<body style=\"font-family: 'MS Pゴシック'\">\n{body}</body></html>\n")

    def message(self, *, frm_name, frm, subject, text, enc, arrival, mid, extra=(), reply_to=None, auto=None):
        body, cs = self.leaf(text, enc, self.html(text) if enc == "alt" else None)
        # The envelope headers go first, as a server writes them, then the body's MIME headers.
        msg = Message()
        mx_id = f"4D{self.rng.getrandbits(40):010X}"
        pc = f"PC{self.rng.randint(1, 999):03d}"
        ip = f"10.20.{self.rng.randint(1, 40)}.{self.rng.randint(2, 250)}"
        # Topmost first: the city's mail server's receipt time is the arrival (SPEC: never Date:).
        msg["Received"] = (f"from mx.{self.domain} (mx.{self.domain} [192.0.2.10])\n\tby mail.{self.domain} "
                           f"(Postfix) with ESMTP id {mx_id}\n\tfor <{self.bot}>; {utils.format_datetime(arrival)} (JST)")
        sent = arrival - timedelta(seconds=self.rng.randint(1, 4))
        msg["Received"] = (f"from {pc} ({pc.lower()}.{self.domain} [{ip}])\n\tby mx.{self.domain} (Postfix) "
                           f"with ESMTPSA id {mx_id[::-1]}\n\tfor <{self.bot}>; {utils.format_datetime(sent)} (JST)")
        msg["From"] = utils.formataddr((frm_name, frm), cs if cs != JIS else JIS) if frm_name else frm
        msg["To"] = self.bot
        msg["Subject"] = Header(subject, cs if cs != JIS else JIS)
        msg["Date"] = utils.format_datetime(sent - timedelta(seconds=self.rng.randint(0, 20)))
        msg["Message-ID"] = f"<{mid}>"
        if reply_to:
            msg["In-Reply-To"] = f"<{reply_to}>"
            msg["References"] = f"<{reply_to}>"
        if auto:
            msg["Auto-Submitted"] = auto
            msg["X-Auto-Response-Suppress"] = "All"
        name, value = self.rng.choice(MAILERS)
        msg[name] = value
        for k, v in extra:
            msg[k] = v
        for k, v in body.items():
            msg[k] = v
        if body.is_multipart():
            for part in body.get_payload():
                msg.attach(part)
            msg.preamble, msg.epilogue = "This is a multi-part message in MIME format.", ""
        else:
            msg.set_payload(body.get_payload())
        buf = BytesIO()
        BytesGenerator(buf, mangle_from_=False, policy=compat32.clone(linesep="\n")).flatten(msg)
        return buf.getvalue()

    def mid(self, e_or_addr, arrival):
        self.mail_seq += 1
        host = e_or_addr.split("@")[1] if "@" in e_or_addr else self.domain
        return f"{arrival.strftime('%Y%m%d%H%M%S')}.{self.mail_seq:06d}.{self.rng.getrandbits(32):08x}@{host}"

    def quote(self, style, e, start):
        """The morning's start mail quoted below an end report."""
        s_subject, s_text, s_arrival = start
        if style == "outlook":
            head = (f"-----Original Message-----\nFrom: {e['name']} <{e['email']}> \n"
                    f"Sent: {s_arrival.strftime('%A, %B %d, %Y %I:%M %p').replace(' 0', ' ')}\n"
                    f"To: {self.bot}\nSubject: {s_subject}\n\n")
            return head + s_text
        if style == "outlook-ja":
            head = (f"差出人: {e['name']} <{e['email']}>\n送信日時: {s_arrival.year}年{s_arrival.month}月"
                    f"{s_arrival.day}日 {s_arrival.hour}:{s_arrival.minute:02d}\n宛先: {self.bot}\n件名: {s_subject}\n\n")
            return head + s_text
        wd = WEEKDAYS[s_arrival.weekday()]
        head = (f"{s_arrival.year}年{s_arrival.month}月{s_arrival.day}日({wd}) {s_arrival.hour}:{s_arrival.minute:02d} "
                f"{e['name']} <{e['email']}>:\n\n")
        return head + "".join(f"> {line}\n" if line else ">\n" for line in s_text.rstrip("\n").split("\n"))

    def mails(self):
        rng, spec = self.rng, self.spec
        n = spec["mails"]
        strangers = n * spec["stranger_percent"] // 100
        no_order = n * spec["no_order_percent"] // 100
        autos = spec["auto_replies"]
        redeliveries = spec["redeliveries"]
        reports = n - strangers - no_order - autos - redeliveries
        slots = [(o, kind) for o in self.order_list for kind in ("start", "end")]
        if reports > len(slots):
            sys.exit(f"{reports} report mails asked for, but the orders give only {len(slots)}")
        # Which orders' reports were mailed: the others' teleworkers stayed silent (escalations).
        kept = set(rng.sample(range(len(slots)), reports))
        # The encodings, in the spec's shares, shuffled over every mail written.
        originals = n - redeliveries
        share = spec["encodings"]
        encs = []
        for name in ("jis", "b64", "qp"):
            encs += [name] * (originals * share[name] // 100)
        encs += ["alt"] * (originals - len(encs))
        rng.shuffle(encs)
        enc_iter = iter(encs)
        # Quoting: the end reports that quote the morning's start mail make up a third of all mail.
        quote_target = n * spec["quote_percent"] // 100

        out = []  # (arrival, bytes)
        starts = {}  # (employee, day) -> (subject, text, arrival, mid)
        end_slots = [i for i in sorted(kept) if slots[i][1] == "end"]
        # End reports whose start was mailed can quote it; of those, this share does.
        quotable = [i for i in end_slots if (2 * (i // 2)) in kept]
        quoting = set(rng.sample(quotable, min(quote_target, len(quotable))))

        for i in sorted(kept):
            (day, e, start, end, shifted, leave, content), kind = slots[i]
            wide = rng.random() < 0.3
            if kind == "start":
                # Most on time, some early (> 30 min before), some late (> 15 min after).
                offset = rng.choice([rng.randint(-25, 12)] * 8 + [rng.randint(-50, -31), rng.randint(16, 60)])
                arrival = self.at(day, start, offset * 60 + rng.randint(0, 59))
                subject = rng.choice(START_SUBJECTS).format(md=self.md(day, wide))
                text = self.start_text(e, day, leave)
                mid = self.mid(e["email"], arrival)
                raw = self.message(frm_name=e["name"], frm=e["email"], subject=subject, text=text,
                                   enc=next(enc_iter), arrival=arrival, mid=mid)
                starts[(e["id"], day)] = (subject, text, arrival, mid)
                self.count("start")
            else:
                offset = rng.choice([rng.randint(-10, 40)] * 9 + [rng.randint(-90, -31)])
                arrival = self.at(day, end, offset * 60 + rng.randint(0, 59))
                text = self.end_text(e, day)
                reply_to = None
                subject = rng.choice(END_SUBJECTS).format(md=self.md(day, wide))
                if i in quoting:
                    s = starts[(e["id"], day)]
                    style = rng.choice(["outlook", "outlook-ja", "gmail"])
                    subject = ("RE: " if style.startswith("outlook") else "Re: ") + s[0]
                    text = text + "\n" + self.quote(style, e, s[:3])
                    reply_to = s[3]
                    self.count(f"quoting_{style}")
                mid = self.mid(e["email"], arrival)
                raw = self.message(frm_name=e["name"], frm=e["email"], subject=subject, text=text,
                                   enc=next(enc_iter), arrival=arrival, mid=mid, reply_to=reply_to)
                self.count("end")
            self.expected("matched")
            out.append((arrival, raw))

        # A start report from a teleworker on a working day without an order.
        for _ in range(no_order):
            while True:
                e, day = rng.choice(self.teleworkers), rng.choice(self.days)
                if (e["id"], day) not in self.ordered:
                    break
            arrival = self.at(day, 510, rng.randint(-1200, 600))
            raw = self.message(frm_name=e["name"], frm=e["email"], subject="業務開始",
                               text=self.start_text(e, day, ""), enc=next(enc_iter), arrival=arrival,
                               mid=self.mid(e["email"], arrival))
            out.append((arrival, raw))
            self.count("no_order")
            self.expected("no_order")

        # Strangers: the bot's address reached someone outside the register.
        for k in range(strangers):
            day = rng.choice(self.days)
            arrival = self.at(day, rng.randint(420, 1200), rng.randint(0, 59))
            sn, sr = rng.choice(SURNAMES)
            gn, gr = rng.choice(GIVEN)
            addr = f"{gr}.{sr}{k}@{rng.choice(['example.com', 'example.net', 'mail.example.jp'])}"
            subject, text = rng.choice([
                ("業務開始", f"{sn}です。\n業務を開始します。\n"),
                ("お問い合わせ", f"{sn}と申します。\n在宅勤務制度について教えてください。\n"),
                ("ＲＥ：ご案内", "先日のご案内の件、承知いたしました。\n"),
            ])
            raw = self.message(frm_name=sn + gn, frm=addr, subject=subject, text=text,
                               enc=next(enc_iter), arrival=arrival, mid=self.mid(addr, arrival))
            out.append((arrival, raw))
            self.count("stranger")
            self.expected("unknown_sender")

        # Out-of-office replies from teleworkers' mailboxes, to the bot's answers.
        for _ in range(autos):
            e, day = rng.choice(self.teleworkers), rng.choice(self.days)
            arrival = self.at(day, rng.randint(480, 1100), rng.randint(0, 59))
            subject = rng.choice(["自動応答: 【在宅勤務】受付しました", "Automatic reply: 業務開始",
                                  "不在通知: 業務終了", "Out of Office: 業務開始"])
            text = "ただいま不在にしております。\n戻り次第、確認いたします。\n"
            raw = self.message(frm_name=e["name"], frm=e["email"], subject=subject, text=text,
                               enc=next(enc_iter), arrival=arrival, mid=self.mid(e["email"], arrival),
                               auto="auto-replied")
            out.append((arrival, raw))
            self.count("auto_reply")
            self.expected("auto_reply")

        # Re-deliveries: a message already delivered comes again through the backup MX, minutes
        # later, with one more Received line on top and the same Message-ID.
        delivered = list(out)
        for _ in range(redeliveries):
            arrival, raw = rng.choice(delivered)
            again = arrival + timedelta(seconds=rng.randint(60, 900))
            hop = (f"Received: from mx2.{self.domain} (mx2.{self.domain} [192.0.2.11])\n\tby mail.{self.domain} "
                   f"(Postfix) with ESMTP id 4E{rng.getrandbits(40):010X}\n\tfor <{self.bot}>; "
                   f"{utils.format_datetime(again)} (JST)\n").encode()
            out.append((again, hop + raw))
            self.count("redelivery")
            self.expected("duplicate")
        return out

    def write_mail(self, out_dir, mails):
        os.makedirs(out_dir, exist_ok=True)
        total = 0
        for seq, (arrival, raw) in enumerate(sorted(mails, key=lambda m: m[0])):
            name = f"{int(arrival.timestamp())}.M{seq:06d}P22.mail.{self.domain}"
            with open(os.path.join(out_dir, name), "wb") as f:
                f.write(raw)
            total += len(raw)
        return total


def main():
    spec_path, out = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    w = World(spec)
    w.register()
    w.orders()
    os.makedirs(out, exist_ok=True)
    w.write_register(out)
    mails = w.mails()
    size = w.write_mail(os.path.join(out, "mail"), mails)
    manifest = {
        "employees": len(w.employees),
        "teleworkers": len(w.teleworkers),
        "orders": len(w.order_list),
        "days": len(w.days),
        "mails": len(mails),
        "bytes": size,
        "written": w.counts,
        "expected_reasons": w.expect,
    }
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
