import type { CalibrationPoint, CalibrationReport } from "./calibrate";
import { drawAxes, linearScale, type MarkerShape, niceDomain, Svg } from "../utils/svg";

const fmt = (v: number, digits = 1) => (Number.isInteger(v) ? String(v) : v.toFixed(digits));

/**
 * The calibration as a markdown table: the baseline, then every setting in grid order with its
 * quality, loss, mean steps and speed-up over the baseline; the picks are marked.
 */
export function calibrationTable(report: CalibrationReport): string {
    const picked = new Set(Object.values(report.picks).filter((p): p is CalibrationPoint => p != null));
    const q = report.metric === "accuracy" ? "accuracy (%)" : "agreement (%)";
    const lines = [
        `| strategy | κ | τ | W | θ | ${q} | loss (points) | mean steps | speed-up | within ${fmt(report.budget)} point${report.budget === 1 ? "" : "s"} | pick |`,
        "|---|---|---|---|---|---|---|---|---|---|---|",
        `| low-confidence (baseline, ${report.genLength} steps) | | | | | ${fmt(report.baseline.quality)} | 0 | ${fmt(report.baseline.meanSteps)} | 1.00x | | |`,
    ];
    for (const p of report.points) {
        const s = p.setting;
        const params = s.strategy === "localleap" ? [s.anchorThreshold, s.relaxedThreshold, s.radius, ""] : ["", "", "", s.threshold];
        const speedUp = p.meanSteps > 0 ? `${(report.baseline.meanSteps / p.meanSteps).toFixed(2)}x` : "-";
        lines.push(`| ${s.strategy} | ${params.join(" | ")} | ${fmt(p.quality)} | ${fmt(p.loss)} | ${fmt(p.meanSteps)} | ${speedUp} | ${p.withinBudget ? "yes" : "no"} | ${picked.has(p) ? "**pick**" : ""} |`);
    }
    return `${lines.join("\n")}\n`;
}

/** One line per strategy: its pick, or that none stayed within the budget. */
export function calibrationSummary(report: CalibrationReport): string[] {
    return Object.entries(report.picks).map(([strategy, p]) =>
        p == null
            ? `${strategy}: no setting stays within ${fmt(report.budget)} point(s) of the baseline's ${fmt(report.baseline.quality)}%; the model's previous default is kept`
            : `${strategy}: ${p.label}: ${fmt(p.quality)}% (loss ${fmt(p.loss)}), ${fmt(p.meanSteps)} mean steps (${(report.baseline.meanSteps / p.meanSteps).toFixed(2)}x fewer than the baseline's ${fmt(report.baseline.meanSteps)})`,
    );
}

const COLORS: Record<string, string> = { localleap: "#1f77b4", threshold: "#d62728" };
const SHAPES: Record<string, MarkerShape> = { localleap: "circle", threshold: "square" };

/** Quality against mean steps, one series per strategy; the baseline is a diamond, picks are ringed. */
export function calibrationPlot(report: CalibrationReport): string {
    const width = 640;
    const height = 420;
    const svg = new Svg(width, height);
    const steps = [report.baseline.meanSteps, ...report.points.map((p) => p.meanSteps)];
    const qualities = [report.baseline.quality, ...report.points.map((p) => p.quality)];
    const x = linearScale(niceDomain(steps, { includeZero: true }), [70, width - 150]);
    const y = linearScale(niceDomain(qualities.map((v) => Math.min(100, v))), [height - 60, 40]);
    drawAxes(svg, x, y, {
        x: "mean steps per prompt",
        y: report.metric === "accuracy" ? "accuracy (%)" : "agreement with baseline (%)",
        title: `calibration: ${report.prompts} prompts, gen ${report.genLength}, budget ${fmt(report.budget)} point${report.budget === 1 ? "" : "s"}`,
    });
    const floor = report.baseline.quality - report.budget;
    if (floor >= y.domain[0]) svg.line(x(x.domain[0]), y(floor), x(x.domain[1]), y(floor), { stroke: "#888", "stroke-dasharray": "4 3" });
    const picked = new Set(Object.values(report.picks).filter((p): p is CalibrationPoint => p != null));
    const strategies = [...new Set(report.points.map((p) => p.setting.strategy))];
    for (const p of report.points) {
        const s = p.setting.strategy;
        svg.marker(SHAPES[s] ?? "triangle", x(p.meanSteps), y(p.quality), 4, { fill: COLORS[s] ?? "#2ca02c", "fill-opacity": 0.7 });
        if (picked.has(p)) svg.circle(x(p.meanSteps), y(p.quality), 9, { fill: "none", stroke: "#000", "stroke-width": 1.5 });
    }
    svg.marker("diamond", x(report.baseline.meanSteps), y(report.baseline.quality), 5, { fill: "#000" });
    const legend: [string, MarkerShape, string][] = [
        ["baseline (1 token/step)", "diamond", "#000"],
        ...strategies.map((s): [string, MarkerShape, string] => [s, SHAPES[s] ?? "triangle", COLORS[s] ?? "#2ca02c"]),
    ];
    legend.forEach(([name, shape, color], i) => {
        const ly = 50 + i * 18;
        svg.marker(shape, width - 135, ly - 4, 4, { fill: color });
        svg.text(width - 124, ly, name);
    });
    svg.circle(width - 135, 50 + legend.length * 18 - 4, 7, { fill: "none", stroke: "#000" });
    svg.text(width - 124, 50 + legend.length * 18, "pick");
    svg.text(width - 124, 50 + (legend.length + 1) * 18, "- - budget floor", { fill: "#666" });
    return svg.toString();
}
