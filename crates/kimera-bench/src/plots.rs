//! PNG plots of a run, drawn with plotters.
//!
//! Text is drawn with DejaVu Sans embedded in the crate (`assets/fonts`), through
//! plotters' `ab_glyph` feature: no system fontconfig or freetype is needed, and the
//! plots look the same on every machine.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{BenchError, Result};
use crate::metrics::{Confusion, Curve};

static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and known to parse; a failure here would be a broken
        // build, and plots would then fail with a clear "font unavailable" error.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
        let _ = plotters::style::register_font(FAMILY, FontStyle::Bold, FONT);
    });
}

/// Colour-blind-safe palette (Okabe–Ito), one colour per detector.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(100, 100, 100),
    RGBColor(240, 228, 66),
];

/// Colour of the `i`-th detector.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> BenchError {
    BenchError::Plot {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().into()
}

/// One detector's curve with the number shown in the legend.
#[derive(Debug, Clone)]
pub struct LabelledCurve<'a> {
    pub name: &'a str,
    pub curve: &'a Curve,
    pub area: f64,
}

/// What differs between the ROC and the PR chart.
struct CurveChart<'a> {
    title: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    /// Name of the area in the legend (AUC, AP).
    area_name: &'a str,
    /// A dashed reference line (chance) and its legend text.
    reference: (Vec<(f64, f64)>, String),
    legend_pos: SeriesLabelPosition,
}

fn curve_chart(path: &Path, spec: CurveChart<'_>, curves: &[LabelledCurve<'_>]) -> Result<()> {
    let CurveChart {
        title,
        x_desc,
        y_desc,
        area_name,
        reference,
        legend_pos,
    } = spec;
    register_font();
    let root = BitMapBackend::new(path, (900, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, font(30))
        .margin(24)
        .x_label_area_size(60)
        .y_label_area_size(75)
        .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)
        .map_err(|e| plot_err(path, e))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(font(18))
        .axis_desc_style(font(22))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(210, 210, 210))
        .x_labels(11)
        .y_labels(11)
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()
        .map_err(|e| plot_err(path, e))?;
    {
        let (points, label) = reference;
        chart
            .draw_series(DashedLineSeries::new(
                points,
                8,
                6,
                RGBColor(140, 140, 140).stroke_width(2),
            ))
            .map_err(|e| plot_err(path, e))?
            .label(label)
            .legend(|(x, y)| {
                PathElement::new(
                    [(x, y), (x + 30, y)],
                    RGBColor(140, 140, 140).stroke_width(2),
                )
            });
    }
    for (i, c) in curves.iter().enumerate() {
        let style = color(i).stroke_width(3);
        let points: Vec<(f64, f64)> = c
            .curve
            .x
            .iter()
            .copied()
            .zip(c.curve.y.iter().copied())
            .collect();
        chart
            .draw_series(LineSeries::new(points, style))
            .map_err(|e| plot_err(path, e))?
            .label(format!("{}  ({area_name} {:.3})", c.name, c.area))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 30, y)], style));
    }
    chart
        .configure_series_labels()
        .position(legend_pos)
        .margin(16)
        .label_font(font(20))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(160, 160, 160))
        .draw()
        .map_err(|e| plot_err(path, e))?;
    root.present().map_err(|e| plot_err(path, e))
}

/// ROC curves of all detectors on one chart, with the chance diagonal.
pub fn roc_chart(path: &Path, curves: &[LabelledCurve<'_>]) -> Result<()> {
    let spec = CurveChart {
        title: "ROC curves",
        x_desc: "False positive rate (non-contradictions flagged)",
        y_desc: "True positive rate (contradictions found)",
        area_name: "AUC",
        reference: (vec![(0.0, 0.0), (1.0, 1.0)], "chance".into()),
        legend_pos: SeriesLabelPosition::LowerRight,
    };
    curve_chart(path, spec, curves)
}

/// Precision–recall curves of all detectors on one chart, with the prevalence line.
pub fn pr_chart(path: &Path, curves: &[LabelledCurve<'_>], prevalence: f64) -> Result<()> {
    let spec = CurveChart {
        title: "Precision–recall curves",
        x_desc: "Recall (contradictions found)",
        y_desc: "Precision (flagged pairs that are contradictions)",
        area_name: "AP",
        reference: (
            vec![(0.0, prevalence), (1.0, prevalence)],
            format!("chance (prevalence {prevalence:.3})"),
        ),
        legend_pos: SeriesLabelPosition::LowerLeft,
    };
    curve_chart(path, spec, curves)
}

/// One confusion matrix per detector, side by side (up to 3 per row).
pub fn confusion_chart(path: &Path, matrices: &[(&str, Confusion)]) -> Result<()> {
    register_font();
    let cols = if matrices.len() == 4 {
        2
    } else {
        matrices.len().clamp(1, 3)
    };
    let rows = matrices.len().div_ceil(cols).max(1);
    let (cell_w, cell_h) = (420u32, 400u32);
    let root = BitMapBackend::new(path, (cell_w * cols as u32, cell_h * rows as u32 + 74))
        .into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let root = root.margin(14, 0, 0, 0);
    let root = root
        .titled(
            "Confusion matrices (rows: gold, columns: verdict)",
            font(26),
        )
        .map_err(|e| plot_err(path, e))?;
    let panels = root.split_evenly((rows, cols));
    for ((name, c), panel) in matrices.iter().zip(panels.iter()) {
        draw_confusion(panel, name, c).map_err(|e| plot_err(path, e))?;
    }
    root.present().map_err(|e| plot_err(path, e))
}

fn draw_confusion(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    name: &str,
    c: &Confusion,
) -> std::result::Result<
    (),
    DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>,
> {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let left = 110;
    let top = 80;
    let size = ((w - left - 30).min(h - top - 30) / 2).max(10);
    // The name centred over the matrix, not over the panel.
    area.draw(&Text::new(
        name.to_string(),
        (left + size, 14),
        font(24).pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;
    let cells = [
        (0, 0, c.tp, "TP", c.tp + c.fn_),
        (1, 0, c.fn_, "FN", c.tp + c.fn_),
        (0, 1, c.fp, "FP", c.fp + c.tn),
        (1, 1, c.tn, "TN", c.fp + c.tn),
    ];
    let centered = |size| font(size).pos(Pos::new(HPos::Center, VPos::Center));
    for (col, row, count, label, row_total) in cells {
        let share = if row_total == 0 {
            0.0
        } else {
            count as f64 / row_total as f64
        };
        let correct = col == row;
        let base = if correct {
            (0.0, 114.0, 178.0)
        } else {
            (213.0, 94.0, 0.0)
        };
        let mix = |b: f64| (255.0 - (255.0 - b) * (0.15 + 0.85 * share)) as u8;
        let fill = RGBColor(mix(base.0), mix(base.1), mix(base.2));
        let x0 = left + col * size;
        let y0 = top + row * size;
        area.draw(&Rectangle::new(
            [(x0, y0), (x0 + size, y0 + size)],
            fill.filled(),
        ))?;
        area.draw(&Rectangle::new(
            [(x0, y0), (x0 + size, y0 + size)],
            WHITE.stroke_width(3),
        ))?;
        let ink = if share > 0.55 { WHITE } else { BLACK };
        area.draw(&Text::new(
            format!("{count}"),
            (x0 + size / 2, y0 + size / 2 - 14),
            centered(30).color(&ink),
        ))?;
        area.draw(&Text::new(
            format!("{label}  {:.0}% of row", share * 100.0),
            (x0 + size / 2, y0 + size / 2 + 20),
            centered(16).color(&ink),
        ))?;
    }
    area.draw(&Text::new(
        "says contra.",
        (left + size / 2, top - 16),
        centered(17),
    ))?;
    area.draw(&Text::new(
        "says not",
        (left + size + size / 2, top - 16),
        centered(17),
    ))?;
    area.draw(&Text::new(
        "contra.",
        (left - 50, top + size / 2),
        centered(17),
    ))?;
    area.draw(&Text::new(
        "not",
        (left - 50, top + size + size / 2),
        centered(17),
    ))?;
    Ok(())
}

/// Latency histograms, one panel per detector, on a log-scaled millisecond axis (a rule
/// takes microseconds, an LLM seconds: a linear axis would hide one or the other).
pub fn latency_chart(path: &Path, latencies: &[(&str, &[f64])]) -> Result<()> {
    register_font();
    let n = latencies.len().max(1);
    let root = BitMapBackend::new(path, (1000, 70 + 230 * n as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let root = root.margin(14, 0, 0, 0);
    let root = root
        .titled("Latency per pair (ms, log scale)", font(26))
        .map_err(|e| plot_err(path, e))?;
    // One shared axis, so the panels can be compared by eye.
    let positive = |v: &&f64| **v > 0.0;
    let all: Vec<f64> = latencies
        .iter()
        .flat_map(|(_, v)| v.iter().filter(positive).copied())
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(0f64, f64::max);
    let (lo, hi) = if all.is_empty() {
        (-3.0, 0.0)
    } else {
        (
            (lo.log10()).floor(),
            (hi.log10()).ceil().max(lo.log10().floor() + 1.0),
        )
    };
    let bins_per_decade = 10.0;
    let nbins = ((hi - lo) * bins_per_decade).round().max(1.0) as usize;
    let panels = root.split_evenly((n, 1));
    for (i, ((name, values), panel)) in latencies.iter().zip(panels.iter()).enumerate() {
        let mut counts = vec![0u32; nbins];
        let mut zeros = 0;
        for &v in values.iter() {
            if v > 0.0 {
                let b = (((v.log10() - lo) * bins_per_decade).floor() as isize)
                    .clamp(0, nbins as isize - 1);
                counts[b as usize] += 1;
            } else {
                zeros += 1;
            }
        }
        let top = counts.iter().copied().max().unwrap_or(1).max(1);
        let caption = if zeros > 0 {
            format!("{name}  (n = {}, {zeros} at 0 ms not shown)", values.len())
        } else {
            format!("{name}  (n = {})", values.len())
        };
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, font(20))
            .margin(10)
            .margin_right(30)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(lo..hi, 0u32..(top + top / 10 + 1))
            .map_err(|e| plot_err(path, e))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(225, 225, 225))
            .x_labels(((hi - lo) as usize + 1).max(2))
            .x_label_formatter(&|v| format_ms(10f64.powf(*v)))
            .y_labels(4)
            .y_desc("pairs")
            .label_style(font(16))
            .axis_desc_style(font(16))
            .draw()
            .map_err(|e| plot_err(path, e))?;
        let fill = color(i).mix(0.85).filled();
        chart
            .draw_series(
                counts
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(b, &c)| {
                        let x0 = lo + b as f64 / bins_per_decade;
                        Rectangle::new([(x0, 0), (x0 + 1.0 / bins_per_decade, c)], fill)
                    }),
            )
            .map_err(|e| plot_err(path, e))?;
    }
    root.present().map_err(|e| plot_err(path, e))
}

fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", ms / 1000.0)
    } else if ms >= 1.0 {
        format!("{ms} ms")
    } else if ms >= 0.001 {
        format!("{} µs", (ms * 1000.0).round())
    } else {
        format!("{} ns", (ms * 1e6).round())
    }
}

/// F1 per length bucket, one bar per detector in each bucket.
/// `buckets` are (label, pairs in the bucket); `values[d].1[b]` is detector `d`'s F1 on
/// bucket `b`, `None` when it scored no pair there.
pub fn f1_by_length_chart(
    path: &Path,
    buckets: &[(String, u64)],
    values: &[(&str, Vec<Option<f64>>)],
) -> Result<()> {
    register_font();
    let canvas = BitMapBackend::new(path, (1000, 640)).into_drawing_area();
    canvas.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let root = canvas.margin(14, 0, 0, 0);
    let root = root
        .titled("F1 by pair length (characters of both texts)", font(26))
        .map_err(|e| plot_err(path, e))?;
    // The legend gets its own strip so that it never hides a bar.
    let (legend, body) = root.split_vertically(44);
    let mut x = 90;
    for (d, (name, _)) in values.iter().enumerate() {
        legend
            .draw(&Rectangle::new([(x, 12), (x + 18, 30)], color(d).filled()))
            .map_err(|e| plot_err(path, e))?;
        let label = Text::new(
            name.to_string(),
            (x + 26, 21),
            font(19).pos(Pos::new(HPos::Left, VPos::Center)),
        );
        legend.draw(&label).map_err(|e| plot_err(path, e))?;
        let (w, _) = legend
            .estimate_text_size(name, &font(19))
            .unwrap_or((80, 0));
        x += 26 + w as i32 + 34;
    }
    let nb = buckets.len().max(1);
    let mut chart = ChartBuilder::on(&body)
        .margin(20)
        .margin_top(6)
        .x_label_area_size(64)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..nb as f64, 0f64..1.05f64)
        .map_err(|e| plot_err(path, e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(11)
        .y_label_formatter(&|v| format!("{v:.1}"))
        .y_desc("F1")
        .label_style(font(17))
        .axis_desc_style(font(20))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(|e| plot_err(path, e))?;
    // Bucket names under the bars, drawn by hand (the mesh would label bar edges), on
    // the whole canvas because `backend_coord` gives canvas pixels.
    for (b, (label, n)) in buckets.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(b as f64 + 0.5, 0.0));
        let top = Pos::new(HPos::Center, VPos::Top);
        canvas
            .draw(&Text::new(label.clone(), (x, y + 10), font(18).pos(top)))
            .map_err(|e| plot_err(path, e))?;
        canvas
            .draw(&Text::new(
                format!("{n} pairs"),
                (x, y + 34),
                font(15).pos(top).color(&RGBColor(110, 110, 110)),
            ))
            .map_err(|e| plot_err(path, e))?;
    }
    let nd = values.len().max(1) as f64;
    let group = 0.84;
    let width = group / nd;
    for (d, (_, vals)) in values.iter().enumerate() {
        let c = color(d);
        for (b, v) in vals.iter().enumerate() {
            let Some(v) = *v else { continue };
            let x0 = b as f64 + (1.0 - group) / 2.0 + d as f64 * width;
            let x1 = x0 + width * 0.9;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, 0.0), (x1, v)],
                    c.filled(),
                )))
                .map_err(|e| plot_err(path, e))?;
            let (px, py) = chart.backend_coord(&((x0 + x1) / 2.0, v));
            let value = Text::new(
                format!("{v:.2}"),
                (px, py - 3),
                font(13).pos(Pos::new(HPos::Center, VPos::Bottom)),
            );
            canvas.draw(&value).map_err(|e| plot_err(path, e))?;
        }
    }
    canvas.present().map_err(|e| plot_err(path, e))
}
