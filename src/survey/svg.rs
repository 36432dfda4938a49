//! The survey as an SVG chart: telework days per month, stacked by division, with a legend.
//! Text stays text (Japanese fonts named, none embedded), laid out by an estimate of its width.

use std::fmt::Write as _;

use super::{MonthRow, Survey, ja_date, ja_month};

/// Colours told apart by most people, colour-blind ones included (Tableau 10), and two more.
const PALETTE: [&str; 12] = [
    "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1", "#FF9DA7",
    "#9C755F", "#BAB0AC", "#17BECF", "#8C6D31",
];

/// Fonts a Japanese desktop has (macOS, Windows, Linux), tried in order; nothing is embedded.
const FONTS: &str = "'Hiragino Kaku Gothic ProN', 'Hiragino Sans', 'Yu Gothic UI', 'Yu Gothic', YuGothic, \
    Meiryo, 'Noto Sans CJK JP', 'Noto Sans JP', 'Source Han Sans JP', 'IPAexGothic', 'IPAGothic', \
    'TakaoGothic', 'VL Gothic', sans-serif";

/// XML text and attribute escaping. No crate in the tree does exactly this: minijinja's escaper
/// (there for the web pages) is for HTML and also rewrites `'` and `/`, which would change the
/// chart's bytes; a four-character escaper is smaller than a new dependency.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// 174259 → 「174,259」, for the chart.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// About how wide a text is drawn, in pixels: Japanese characters are square, Latin ones and
/// digits about half as wide. The SVG is laid out with this, since it cannot measure its fonts.
fn text_width(s: &str, size: f64) -> f64 {
    s.chars()
        .map(|c| if c.is_ascii() { 0.6 } else { 1.0 })
        .sum::<f64>()
        * size
}

/// A round axis step giving about five grid lines.
fn nice_step(max: u64) -> u64 {
    let raw = (max as f64 / 5.0).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|f| f * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    (step.round() as u64).max(1)
}

/// Where everything goes: sized to fit the text (the widest axis number on the left, the
/// widest legend entry on the right, as many legend rows as there are divisions).
struct Layout {
    step: u64,
    ymax: f64,
    legend: Vec<String>,
    top: f64,
    left: f64,
    /// The plot's width and height.
    pw: f64,
    ph: f64,
    w: f64,
    h: f64,
    /// Room per month, and the width of its bar.
    slot: f64,
    bar: f64,
}

impl Layout {
    fn new(s: &Survey) -> Layout {
        let max = s.months.iter().map(|m| m.order_days).max().unwrap_or(0);
        let step = nice_step(max);
        let ymax = (max.div_ceil(step).max(1) * step) as f64;
        // Sized to fit the text: the widest axis number on the left, the widest legend entry on
        // the right, and as many legend rows as there are divisions.
        let legend: Vec<String> = s
            .divisions
            .iter()
            .map(|d| format!("{}（{} 日）", d.division, grouped(d.order_days)))
            .collect();
        let legend_w = legend
            .iter()
            .map(|l| text_width(l, 13.0))
            .fold(0.0, f64::max)
            + 20.0;
        let (top, bottom, pw) = (78.0, 64.0, 520.0);
        let left = text_width(&grouped(ymax as u64), 12.0) + 20.0;
        let w = (left + pw + 28.0 + legend_w + 16.0).ceil();
        let h = 480.0_f64.max(top + 14.0 + 22.0 * legend.len() as f64 + bottom);
        let ph = h - top - bottom;
        let n = s.months.len().max(1) as f64;
        let slot = pw / n;
        let bar = (slot * 0.62).min(72.0);
        Layout {
            step,
            ymax,
            legend,
            top,
            left,
            pw,
            ph,
            w,
            h,
            slot,
            bar,
        }
    }

    /// The height on the chart of `v` days.
    fn y(&self, v: f64) -> f64 {
        self.top + self.ph - v / self.ymax * self.ph
    }
}

/// Telework days per month, stacked by division.
pub fn render_svg(s: &Survey) -> String {
    let l = Layout::new(s);
    let mut o = String::new();
    header(&mut o, s, &l);
    grid(&mut o, &l);
    for (i, m) in s.months.iter().enumerate() {
        stack(&mut o, &l, i, m);
    }
    baseline(&mut o, s, &l);
    legend(&mut o, &l);
    let _ = writeln!(o, "</svg>");
    o
}

/// The root element, the accessible title and description, the style, the titles.
fn header(o: &mut String, s: &Survey, l: &Layout) {
    let (w, h, left) = (l.w, l.h, l.left);
    let title = "在宅勤務日数（月別・部別）";
    let sub = format!(
        "利用状況調査 {}　対象期間 {} ～ {}",
        s.wave,
        ja_date(&s.from),
        ja_date(&s.to)
    );
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-labelledby="t d" lang="ja">"#
    );
    let _ = writeln!(o, "<title id=\"t\">{}</title>", xml(title));
    let _ = writeln!(
        o,
        "<desc id=\"d\">{}。合計 {} 日、職員 {} 人、{} 課。</desc>",
        xml(&sub),
        s.order_days,
        s.teleworkers,
        s.active_departments
    );
    let _ = writeln!(
        o,
        "<style>text {{ font-family: {FONTS}; fill: #222; }} .sub {{ fill: #555; }} .axis {{ fill: #555; font-size: 12px; }} \
         .grid {{ stroke: #e3e3e3; stroke-width: 1; }} .base {{ stroke: #888; stroke-width: 1; }}</style>"
    );
    let _ = writeln!(o, "<rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>");
    let _ = writeln!(
        o,
        "<text x=\"{left}\" y=\"32\" font-size=\"20\" font-weight=\"bold\">{}</text>",
        xml(title)
    );
    let _ = writeln!(
        o,
        "<text class=\"sub\" x=\"{left}\" y=\"54\" font-size=\"13\">{}</text>",
        xml(&sub)
    );
}

/// Grid lines and the value axis.
fn grid(o: &mut String, l: &Layout) {
    let (top, left, pw) = (l.top, l.left, l.pw);
    let y = |v: f64| l.y(v);
    let (ymax, step) = (l.ymax, l.step);
    let mut v = 0;
    while v as f64 <= ymax {
        let yy = y(v as f64);
        let _ = writeln!(
            o,
            "<line class=\"grid\" x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\"/>",
            left + pw
        );
        let _ = writeln!(
            o,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            yy + 4.0,
            grouped(v)
        );
        v += step;
    }
    let _ = writeln!(
        o,
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"start\">（日）</text>",
        left - 40.0,
        top - 12.0
    );
}

/// One month's bar: its divisions bottom-up in survey order, its total, its month (and year).
fn stack(o: &mut String, l: &Layout, i: usize, m: &MonthRow) {
    let (top, ph, left) = (l.top, l.ph, l.left);
    let y = |v: f64| l.y(v);
    let (slot, bar) = (l.slot, l.bar);
    let x = left + slot * i as f64 + (slot - bar) / 2.0;
    let mut acc = 0.0;
    let _ = writeln!(o, "<g>");
    for (k, d) in m
        .by_division
        .iter()
        .enumerate()
        .filter(|(_, d)| d.order_days > 0)
    {
        let (y1, y0) = (y(acc + d.order_days as f64), y(acc));
        let _ = writeln!(
            o,
            "<rect x=\"{x:.1}\" y=\"{y1:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} {}: {} 日</title></rect>",
            (y0 - y1).max(0.5),
            PALETTE[k % PALETTE.len()],
            xml(&ja_month(&m.month)),
            xml(&d.division),
            grouped(d.order_days)
        );
        acc += d.order_days as f64;
    }
    if m.order_days > 0 {
        let _ = writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"bold\">{}</text>",
            x + bar / 2.0,
            y(acc) - 6.0,
            grouped(m.order_days)
        );
    }
    let _ = writeln!(o, "</g>");
    // 「7月」 under each bar; the year under the first bar and under each January.
    let (yr, mo) = m.month.split_once('-').unwrap_or((&m.month, ""));
    let cx = x + bar / 2.0;
    let _ = writeln!(
        o,
        "<text class=\"axis\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}月</text>",
        top + ph + 18.0,
        mo.trim_start_matches('0')
    );
    if i == 0 || mo == "01" {
        let _ = writeln!(
            o,
            "<text class=\"axis\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{yr}年</text>",
            top + ph + 34.0
        );
    }
}

/// The base line, and a note when the wave has no telework at all.
fn baseline(o: &mut String, s: &Survey, l: &Layout) {
    let (top, ph, left, pw) = (l.top, l.ph, l.left, l.pw);
    let _ = writeln!(
        o,
        "<line class=\"base\" x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
        top + ph,
        left + pw,
        top + ph
    );
    if s.order_days == 0 {
        let _ = writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"15\" class=\"sub\">対象期間に在宅勤務はありません</text>",
            left + pw / 2.0,
            top + ph / 2.0
        );
    }
}

/// Legend, top to bottom as the stacks read top to bottom.
fn legend(o: &mut String, l: &Layout) {
    let (top, left, pw, legend) = (l.top, l.left, l.pw, &l.legend);
    let lx = left + pw + 28.0;
    let _ = writeln!(
        o,
        "<text x=\"{lx:.1}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">部</text>",
        top
    );
    for (j, (k, label)) in legend.iter().enumerate().rev().enumerate() {
        let ly = top + 14.0 + j as f64 * 22.0;
        let _ = writeln!(
            o,
            "<rect x=\"{lx:.1}\" y=\"{ly:.1}\" width=\"14\" height=\"14\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\">{}</text>",
            PALETTE[k % PALETTE.len()],
            lx + 20.0,
            ly + 12.0,
            xml(label)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::testdata::sample;

    #[test]
    fn svg_is_text_with_japanese_fonts_and_a_bar_per_month() {
        let svg = render_svg(&sample());
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(
            svg.contains("Hiragino") && svg.contains("Noto Sans CJK JP") && svg.contains("Meiryo")
        );
        assert!(!svg.contains("@font-face") && !svg.contains("base64"));
        assert!(
            svg.contains(">1月</text>")
                && svg.contains(">2月</text>")
                && svg.contains(">2021年</text>")
        );
        assert!(svg.contains(">総務部（3 日）</text>"), "{svg}");
        assert!(
            svg.contains("<title>2021年1月 総務部: 3 日</title>"),
            "{svg}"
        );
        // Well-formed enough for a browser: every opened element is closed.
        assert_eq!(svg.matches("<g>").count(), svg.matches("</g>").count());
        // The background, one segment per month here, and two legend keys.
        assert_eq!(svg.matches("<rect").count(), 1 + 2 + 2, "{svg}");
    }

    #[test]
    fn the_chart_is_wide_enough_for_its_longest_legend_entry() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(174259), "174,259");
        assert_eq!(grouped(1000000), "1,000,000");
        let mut s = sample();
        s.divisions[0].division = "行政委員会事務局".into();
        s.divisions[0].order_days = 1_234_567;
        let svg = render_svg(&s);
        let width: f64 = svg
            .split("width=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let legend_x: f64 = svg
            .split("font-weight=\"bold\">部</text>")
            .next()
            .unwrap()
            .rsplit("x=\"")
            .next()
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            legend_x + 20.0 + text_width("行政委員会事務局（1,234,567 日）", 13.0) <= width,
            "{svg}"
        );
    }

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(nice_step(0), 1);
        assert_eq!(nice_step(7), 2);
        assert_eq!(nice_step(48), 10);
        assert_eq!(nice_step(1234), 250);
    }
}
