//! An SVG chart of how each benchmark figure grows with the city: one small panel
//! per figure, persons on a logarithmic x axis, the figure on a logarithmic y axis,
//! Mingma and (where measured) the PostgreSQL baseline as two lines.

use std::fmt::Write;

use crate::Report;

/// One panel: a title, a unit, and how to read Mingma's and the baseline's value.
struct Panel {
    title: &'static str,
    unit: &'static str,
    mingma: fn(&Report) -> Option<f64>,
    baseline: fn(&Report) -> Option<f64>,
}

const PANELS: [Panel; 6] = [
    Panel {
        title: "durable ingestion",
        unit: "scans/s",
        mingma: |r| Some(r.ingestion.scans_per_second),
        baseline: |r| r.baseline.as_ref().map(|b| b.insert_rows_per_second),
    },
    Panel {
        title: "affected persons, district × 3 days",
        unit: "ms",
        mingma: |r| Some(r.declaration.affected_ms),
        baseline: |r| r.baseline.as_ref().map(|b| b.affected_ms),
    },
    Panel {
        title: "re-derivation after the declaration",
        unit: "ms",
        mingma: |r| Some(r.declaration.total_ms),
        baseline: |_| None,
    },
    Panel {
        title: "tracing one case (median)",
        unit: "ms",
        mingma: |r| Some(r.tracing.median_ms),
        baseline: |r| r.baseline.as_ref().map(|b| b.trace_median_ms),
    },
    Panel {
        title: "every code from scratch",
        unit: "ms",
        mingma: |r| Some(r.derive_all.ms),
        baseline: |_| None,
    },
    Panel {
        title: "memory per scan (baseline: disk)",
        unit: "bytes",
        mingma: |r| Some(r.memory.bytes_per_scan),
        baseline: |r| r.baseline.as_ref().map(|b| b.bytes_per_scan),
    },
];

const WIDTH: f64 = 330.0;
const HEIGHT: f64 = 230.0;
const COLUMNS: usize = 3;
/// Plot area inside a panel.
const LEFT: f64 = 62.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 40.0;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A compact number: 1.2k, 35M, 0.4.
fn short(value: f64) -> String {
    let (scaled, suffix) = if value >= 1e6 {
        (value / 1e6, "M")
    } else if value >= 1e3 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    if scaled >= 10.0 || scaled.fract() == 0.0 {
        format!("{scaled:.0}{suffix}")
    } else {
        format!("{scaled:.1}{suffix}")
    }
}

/// Draws the chart of `reports` (any order; one point per report).
pub fn chart(reports: &[Report]) -> String {
    let mut reports: Vec<&Report> = reports.iter().collect();
    reports.sort_by_key(|r| r.config.persons);
    let rows = PANELS.len().div_ceil(COLUMNS);
    let (total_w, total_h) = (WIDTH * COLUMNS as f64, HEIGHT * rows as f64 + 30.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" viewBox="0 0 {total_w} {total_h}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="{}" font-size="12"><tspan fill="#1f6feb">━ Mingma (SQLite, embedded)</tspan>   <tspan fill="#d1242f">╍ conventional PostgreSQL 15</tspan>   persons on the x axis; both axes logarithmic</text>
"##,
        total_h - 10.0
    );
    let persons: Vec<f64> = reports
        .iter()
        .map(|r| f64::from(r.config.persons.max(1)))
        .collect();
    let (x_min, x_max) = bounds(&persons);
    for (i, panel) in PANELS.iter().enumerate() {
        let (ox, oy) = ((i % COLUMNS) as f64 * WIDTH, (i / COLUMNS) as f64 * HEIGHT);
        let ours: Vec<(f64, f64)> = points(&reports, panel.mingma);
        let theirs: Vec<(f64, f64)> = points(&reports, panel.baseline);
        let values: Vec<f64> = ours.iter().chain(&theirs).map(|(_, y)| *y).collect();
        let (y_min, y_max) = bounds(&values);
        let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
        let x = |v: f64| ox + LEFT + pw * log_fraction(v, x_min, x_max);
        let y = |v: f64| oy + TOP + ph * (1.0 - log_fraction(v, y_min, y_max));
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" font-weight="bold">{} ({})</text>
<rect x="{}" y="{}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>
"##,
            ox + LEFT,
            oy + 20.0,
            escape(panel.title),
            escape(panel.unit),
            ox + LEFT,
            oy + TOP
        );
        for tick in decades(x_min, x_max) {
            let _ = writeln!(
                svg,
                r##"<text x="{}" y="{}" text-anchor="middle" fill="#444">{}</text>"##,
                x(tick),
                oy + TOP + ph + 14.0,
                short(tick)
            );
        }
        for tick in decades(y_min, y_max) {
            let _ = writeln!(
                svg,
                r##"<line x1="{}" x2="{}" y1="{y}" y2="{y}" stroke="#eee"/><text x="{}" y="{}" text-anchor="end" fill="#444">{}</text>"##,
                ox + LEFT,
                ox + LEFT + pw,
                ox + LEFT - 4.0,
                y(tick) + 4.0,
                short(tick),
                y = y(tick)
            );
        }
        for (line, colour, dash) in [
            (&ours, "#1f6feb", ""),
            (&theirs, "#d1242f", r#" stroke-dasharray="5 3""#),
        ] {
            if line.is_empty() {
                continue;
            }
            let path: Vec<String> = line
                .iter()
                .map(|(a, b)| format!("{:.1},{:.1}", x(*a), y(*b)))
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#,
                path.join(" ")
            );
            for (a, b) in line {
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{}: {}</title></circle>"#,
                    x(*a),
                    y(*b),
                    short(*a),
                    short(*b)
                );
            }
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn points(reports: &[&Report], read: fn(&Report) -> Option<f64>) -> Vec<(f64, f64)> {
    reports
        .iter()
        .filter_map(|r| Some((f64::from(r.config.persons.max(1)), read(r)?)))
        .filter(|(_, y)| y.is_finite() && *y > 0.0)
        .collect()
}

/// Decade-aligned bounds around the values (at least one decade wide).
fn bounds(values: &[f64]) -> (f64, f64) {
    let positive = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = positive.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (1.0, 10.0);
    }
    let (lo, hi) = (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil()),
    );
    if hi <= lo {
        (lo, lo * 10.0)
    } else {
        (lo, hi)
    }
}

fn log_fraction(v: f64, lo: f64, hi: f64) -> f64 {
    ((v.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10())).clamp(0.0, 1.0)
}

fn decades(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut tick = lo;
    while tick <= hi * 1.000_001 {
        out.push(tick);
        tick *= 10.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_decades_around_the_values() {
        assert_eq!(bounds(&[15.0, 870.0]), (10.0, 1000.0));
        assert_eq!(bounds(&[100.0]), (100.0, 1000.0));
        assert_eq!(bounds(&[]), (1.0, 10.0));
        assert_eq!(decades(10.0, 1000.0), vec![10.0, 100.0, 1000.0]);
        assert_eq!(short(1_500_000.0), "1.5M");
        assert_eq!(short(150_000.0), "150k");
        assert_eq!(short(0.25), "0.2");
    }
}
