// The benchmark's plots as SVG: accuracy against steps %, tokens/s per configuration, and the
// κ / τ / W (and θ) sweep.
import { type BenchConfig, type Family, localleap, sweepPoints, SWEEP_THETA, threshold } from "./configs";
import type { ConfigSummary } from "./summarize";
import { drawAxes, linearScale, type MarkerShape, niceDomain, Svg } from "../../lib/utils/svg";

const FAMILY_COLOR: Record<Family, string> = {
    "low-confidence": "#4c72b0",
    threshold: "#dd8452",
    "threshold+stop": "#c44e52",
    localleap: "#55a868",
    "localleap+stop": "#8172b3",
    "threshold (model defaults)": "#937860",
    "localleap (model defaults)": "#da8bc3",
    "threshold+eot": "#8c613c",
    "localleap+eot": "#4d8f8b",
    "threshold+adaptive": "#64b5cd",
    "localleap+adaptive": "#8c8c8c",
    "localleap+adaptive+stop": "#ccb974",
    learned: "#e377c2",
    apd: "#17becf",
};
const SHAPES: MarkerShape[] = ["circle", "square", "diamond", "triangle"];

function shapeFor(genLengths: readonly number[], genLength: number): MarkerShape {
    return SHAPES[Math.max(0, genLengths.indexOf(genLength)) % SHAPES.length] as MarkerShape;
}

interface Box {
    x0: number;
    y0: number;
    x1: number;
    y1: number;
}

/** A label position right of (px, py), inside the plot, that overlaps no label placed before (tried up and down in turn). */
function placeLabel(placed: Box[], px: number, py: number, width: number, height: number, area: { top: number; bottom: number }): [number, number] {
    const overlaps = (b: Box) => b.y0 < area.top || b.y1 > area.bottom || placed.some((p) => b.x0 < p.x1 && p.x0 < b.x1 && b.y0 < p.y1 && p.y0 < b.y1);
    let best: Box | undefined;
    for (let i = 0; i < 40 && best === undefined; i++) {
        const shift = (i % 2 === 0 ? -1 : 1) * Math.ceil(i / 2) * (height + 2);
        const baseline = py - 6 + shift;
        const box = { x0: px + 7, y0: baseline - height, x1: px + 7 + width, y1: baseline + 2 };
        if (!overlaps(box)) best = box;
    }
    const box = best ?? { x0: px + 7, y0: py - 6 - height, x1: px + 7 + width, y1: py - 4 };
    placed.push(box);
    return [box.x0, box.y1 - 2];
}

/** Accuracy (%) against mean steps as % of the one-token baseline, one marker per configuration. */
export function accuracyVsStepsSvg(summaries: readonly ConfigSummary[], subtitle: string): string {
    const svg = new Svg(860, 500);
    const area = { left: 80, right: 600, top: 50, bottom: 440 };
    const x = linearScale([0, 100], [area.left, area.right]);
    const y = linearScale(niceDomain(summaries.map((s) => s.accuracy)), [area.bottom, area.top]);
    drawAxes(svg, x, y, { x: "mean steps, % of the one-token-per-step baseline", y: "held-out accuracy, %", title: `Accuracy against steps (${subtitle})` });
    const gens = [...new Set(summaries.map((s) => s.genLength))].sort((a, b) => a - b);
    for (const g of gens) {
        const lc = summaries
            .filter((s) => s.genLength === g && s.family === "low-confidence" && (s.cache ?? "none") === "none")
            .sort((a, b) => a.stepsPct - b.stepsPct);
        svg.polyline(lc.map((s) => [x(s.stepsPct), y(s.accuracy)]), { stroke: FAMILY_COLOR["low-confidence"], "stroke-dasharray": "4 3" });
    }
    // Labels keep clear of every marker and of the labels placed before them.
    const placed: Box[] = summaries.map((s) => ({ x0: x(s.stepsPct) - 6, y0: y(s.accuracy) - 6, x1: x(s.stepsPct) + 6, y1: y(s.accuracy) + 6 }));
    for (const s of [...summaries].sort((a, b) => a.stepsPct - b.stepsPct || b.accuracy - a.accuracy)) {
        const [px, py] = [x(s.stepsPct), y(s.accuracy)];
        svg.marker(shapeFor(gens, s.genLength), px, py, 5, { fill: FAMILY_COLOR[s.family], stroke: "#333", "stroke-width": 0.6 });
        const [lx, ly] = placeLabel(placed, px, py, s.name.length * 5.2, 9, { top: area.top, bottom: area.bottom - 2 });
        if (Math.abs(ly - (py - 6)) > 1) svg.line(px + 3, py, lx - 1, ly - 3, { stroke: "#bbb", "stroke-width": 0.5 });
        svg.text(lx, ly, s.name, { "font-size": 9, fill: "#444" });
    }
    let ly = area.top + 10;
    for (const family of Object.keys(FAMILY_COLOR) as Family[]) {
        if (!summaries.some((s) => s.family === family)) continue;
        svg.rect(area.right + 70, ly - 8, 12, 12, { fill: FAMILY_COLOR[family] });
        svg.text(area.right + 88, ly + 2, family);
        ly += 20;
    }
    ly += 10;
    for (const g of gens) {
        svg.marker(shapeFor(gens, g), area.right + 76, ly - 2, 5, { fill: "#bbb", stroke: "#333", "stroke-width": 0.6 });
        svg.text(area.right + 88, ly + 2, `gen length ${g}`);
        ly += 20;
    }
    return svg.toString();
}

/** Tokens per second of every configuration, as horizontal bars. */
export function tokensPerSecondSvg(summaries: readonly ConfigSummary[], subtitle: string): string {
    const rowHeight = 22;
    const area = { left: 190, right: 700, top: 50 };
    const bottom = area.top + rowHeight * summaries.length;
    const svg = new Svg(800, bottom + 60);
    const x = linearScale(niceDomain(summaries.map((s) => s.tokensPerSecond), { includeZero: true }), [area.left, area.right]);
    const yTop = linearScale([0, 1], [bottom, area.top]);
    drawAxes(svg, x, yTop, { x: "useful tokens per second (engine time)", y: "", title: `Tokens/s per configuration (${subtitle})` }, { yTicks: false });
    summaries.forEach((s, i) => {
        const top = area.top + i * rowHeight + 3;
        svg.rect(area.left, top, Math.max(0, x(s.tokensPerSecond) - area.left), rowHeight - 6, { fill: FAMILY_COLOR[s.family] });
        svg.text(area.left - 6, top + rowHeight / 2 + 1, s.name, { "text-anchor": "end", "font-size": 11 });
        svg.text(x(s.tokensPerSecond) + 4, top + rowHeight / 2 + 1, s.tokensPerSecond.toFixed(s.tokensPerSecond >= 100 ? 0 : 1), { "font-size": 10 });
    });
    return svg.toString();
}

/**
 * The sweep: one panel per parameter (κ, τ, W with the others at their defaults; θ for the
 * threshold rule), accuracy and steps % against the value, the baseline's accuracy dashed.
 */
export function sweepSvg(summaries: readonly ConfigSummary[], genLength: number, subtitle: string): string {
    const byName = new Map(summaries.map((s) => [s.name, s]));
    const baseline = summaries.find((s) => s.family === "low-confidence" && s.genLength === genLength && s.meanSteps === genLength);
    const panels: { title: string; points: { value: number; config: BenchConfig }[] }[] = [
        { title: "κ (anchor threshold), τ = min(0.75, κ), W = 4", points: sweepPoints("kappa").map((p) => ({ value: p.value, config: localleap(genLength, p.kappa, p.tau, p.radius) })) },
        { title: "τ (relaxed threshold), κ = 0.9, W = 4", points: sweepPoints("tau").map((p) => ({ value: p.value, config: localleap(genLength, p.kappa, p.tau, p.radius) })) },
        { title: "W (radius), κ = 0.9, τ = 0.75", points: sweepPoints("W").map((p) => ({ value: p.value, config: localleap(genLength, p.kappa, p.tau, p.radius) })) },
        { title: "θ (threshold rule)", points: SWEEP_THETA.map((theta) => ({ value: theta, config: threshold(genLength, theta) })) },
    ];
    const width = 330;
    const svg = new Svg(width * panels.length + 20, 400);
    svg.text((width * panels.length) / 2, 20, `Sweep, gen length ${genLength} (${subtitle}); colour: accuracy %, grey: mean steps % of the one-token baseline, dashed: the baseline's accuracy`, {
        "text-anchor": "middle",
        "font-size": 13,
        "font-weight": "bold",
    });
    const all = summaries.flatMap((s) => [s.accuracy, s.stepsPct]);
    const yDomain = niceDomain([...all, 0]);
    panels.forEach((panel, i) => {
        const left = i * width + 70;
        const values = panel.points.map((p) => p.value);
        const x = linearScale([Math.min(...values), Math.max(...values)], [left, left + width - 90]);
        const y = linearScale(yDomain, [340, 60]);
        drawAxes(svg, x, y, { x: panel.title.split(" ")[0] as string, y: "%", title: panel.title }, { x: (v) => String(Number(v.toPrecision(3))) });
        if (baseline) svg.line(left, y(baseline.accuracy), left + width - 90, y(baseline.accuracy), { stroke: FAMILY_COLOR["low-confidence"], "stroke-dasharray": "5 4" });
        const measured = panel.points.flatMap((p) => {
            const s = byName.get(p.config.name);
            return s ? [{ value: p.value, s }] : [];
        });
        const color = i === 3 ? FAMILY_COLOR.threshold : FAMILY_COLOR.localleap;
        svg.polyline(measured.map(({ value, s }) => [x(value), y(s.accuracy)]), { stroke: color, "stroke-width": 2 });
        svg.polyline(measured.map(({ value, s }) => [x(value), y(s.stepsPct)]), { stroke: "#777", "stroke-width": 1.5 });
        for (const { value, s } of measured) {
            svg.circle(x(value), y(s.accuracy), 3.5, { fill: color });
            svg.circle(x(value), y(s.stepsPct), 3, { fill: "#777" });
        }
    });
    return svg.toString();
}
