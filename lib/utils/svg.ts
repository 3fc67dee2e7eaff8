// Moved from bench/accuracy/svg.ts so that the package can draw calibration plots (lib/calibrate/plot.ts); the benchmarks import it from here.
// A tiny SVG writer: shapes, text, linear scales, nice ticks and axes. Enough for the benchmark's
// three plots, with no dependency.

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

type Attrs = Record<string, string | number | undefined>;

function attrs(a: Attrs): string {
    return Object.entries(a)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => ` ${k}="${typeof v === "number" ? num(v) : escapeXml(v as string)}"`)
        .join("");
}

/** An SVG document built element by element. */
export class Svg {
    private readonly parts: string[] = [];

    constructor(readonly width: number, readonly height: number) {}

    rect(x: number, y: number, w: number, h: number, a: Attrs = {}): this {
        this.parts.push(`<rect${attrs({ x, y, width: w, height: h, ...a })}/>`);
        return this;
    }

    line(x1: number, y1: number, x2: number, y2: number, a: Attrs = {}): this {
        this.parts.push(`<line${attrs({ x1, y1, x2, y2, stroke: "#000", ...a })}/>`);
        return this;
    }

    polyline(points: readonly [number, number][], a: Attrs = {}): this {
        if (points.length === 0) return this;
        const d = points.map(([x, y]) => `${num(x)},${num(y)}`).join(" ");
        this.parts.push(`<polyline${attrs({ points: d, fill: "none", stroke: "#000", ...a })}/>`);
        return this;
    }

    circle(cx: number, cy: number, r: number, a: Attrs = {}): this {
        this.parts.push(`<circle${attrs({ cx, cy, r, ...a })}/>`);
        return this;
    }

    /** A marker: "circle", "square", "diamond" or "triangle" centred on (x, y). */
    marker(shape: MarkerShape, x: number, y: number, size: number, a: Attrs = {}): this {
        if (shape === "circle") return this.circle(x, y, size, a);
        if (shape === "square") return this.rect(x - size, y - size, 2 * size, 2 * size, a);
        const pts: [number, number][] =
            shape === "diamond"
                ? [[x, y - size * 1.3], [x + size * 1.3, y], [x, y + size * 1.3], [x - size * 1.3, y]]
                : [[x, y - size * 1.3], [x + size * 1.2, y + size], [x - size * 1.2, y + size]];
        this.parts.push(`<polygon${attrs({ points: pts.map(([px, py]) => `${num(px)},${num(py)}`).join(" "), ...a })}/>`);
        return this;
    }

    text(x: number, y: number, content: string, a: Attrs = {}): this {
        this.parts.push(`<text${attrs({ x, y, "font-size": 12, ...a })}>${escapeXml(content)}</text>`);
        return this;
    }

    toString(): string {
        return (
            `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}" ` +
            `font-family="Helvetica, Arial, sans-serif">\n<rect width="100%" height="100%" fill="#fff"/>\n${this.parts.join("\n")}\n</svg>\n`
        );
    }
}

export type MarkerShape = "circle" | "square" | "diamond" | "triangle";

/** A linear map from a data interval onto a pixel interval. */
export interface Scale {
    domain: [number, number];
    (value: number): number;
}

export function linearScale(domain: [number, number], range: [number, number]): Scale {
    const [d0, d1] = domain;
    const [r0, r1] = range;
    const span = d1 - d0 || 1;
    const scale = ((v: number) => r0 + ((v - d0) / span) * (r1 - r0)) as Scale;
    scale.domain = domain;
    return scale;
}

/** About `count` round tick values covering [min, max] (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(min: number, max: number, count = 5): number[] {
    if (!(max > min)) return [min];
    const raw = (max - min) / Math.max(1, count);
    const power = 10 ** Math.floor(Math.log10(raw));
    const step = ([1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power);
    const ticks: number[] = [];
    for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
    return ticks;
}

/** A [min, max] that holds the values and starts and ends on ticks. */
export function niceDomain(values: readonly number[], options: { includeZero?: boolean; count?: number } = {}): [number, number] {
    const finite = values.filter(Number.isFinite);
    let min = Math.min(...finite, ...(options.includeZero ? [0] : []));
    let max = Math.max(...finite);
    if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
    if (min === max) {
        min -= 1;
        max += 1;
    }
    const ticks = niceTicks(min, max, options.count ?? 5);
    const step = ticks.length > 1 ? (ticks[1] as number) - (ticks[0] as number) : 1;
    return [Math.floor(min / step + 1e-9) * step, Math.ceil(max / step - 1e-9) * step];
}

/** Axes, grid lines and labels of a plot area. */
export function drawAxes(
    svg: Svg,
    x: Scale,
    y: Scale,
    labels: { x: string; y: string; title?: string },
    format: { x?: (v: number) => string; y?: (v: number) => string; yTicks?: boolean } = {},
): void {
    const [x0, x1] = [x(x.domain[0]), x(x.domain[1])];
    const [y0, y1] = [y(y.domain[0]), y(y.domain[1])];
    const fx = format.x ?? ((v: number) => String(v));
    const fy = format.y ?? ((v: number) => String(v));
    for (const t of format.yTicks === false ? [] : niceTicks(y.domain[0], y.domain[1], 5)) {
        svg.line(x0, y(t), x1, y(t), { stroke: "#e4e4e4" });
        svg.text(x0 - 6, y(t) + 4, fy(t), { "text-anchor": "end", "font-size": 11 });
    }
    for (const t of niceTicks(x.domain[0], x.domain[1], 6)) {
        svg.line(x(t), y0, x(t), y1, { stroke: "#f0f0f0" });
        svg.text(x(t), y0 + 16, fx(t), { "text-anchor": "middle", "font-size": 11 });
    }
    svg.line(x0, y0, x1, y0).line(x0, y0, x0, y1);
    svg.text((x0 + x1) / 2, y0 + 34, labels.x, { "text-anchor": "middle" });
    const ym = (y0 + y1) / 2;
    svg.text(x0 - 44, ym, labels.y, { "text-anchor": "middle", transform: `rotate(-90 ${num(x0 - 44)} ${num(ym)})` });
    if (labels.title) svg.text((x0 + x1) / 2, y1 - 12, labels.title, { "text-anchor": "middle", "font-size": 13, "font-weight": "bold" });
}
