/** The strategies `calibrate` sweeps: the ones with parameters to tune. */
export const CALIBRATED_STRATEGIES = ["localleap", "threshold"] as const;
export type CalibratedStrategy = (typeof CALIBRATED_STRATEGIES)[number];

/** The parameter grid of a calibration; each list is swept in the order given. */
export interface CalibrationGrid {
    /** κ values (localleap). */
    anchorThreshold: number[];
    /** τ values (localleap); only pairs with τ <= κ run. */
    relaxedThreshold: number[];
    /** W values (localleap). */
    radius: number[];
    /** θ values (threshold). */
    threshold: number[];
}

/** The default grid: κ and θ from 0.5 to 0.95, τ from 0.5 to 0.9 (τ <= κ), W in {1, 2, 4, 8}. */
export const DEFAULT_CALIBRATION_GRID: Readonly<CalibrationGrid> = Object.freeze({
    anchorThreshold: [0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
    relaxedThreshold: [0.5, 0.6, 0.7, 0.8, 0.9],
    radius: [1, 2, 4, 8],
    threshold: [0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
});

/** One grid point: a strategy and its parameters. */
export type CalibrationSetting =
    | { strategy: "localleap"; anchorThreshold: number; relaxedThreshold: number; radius: number }
    | { strategy: "threshold"; threshold: number };

/**
 * The settings a grid gives, strategy by strategy in the order asked, each list in its order
 * (κ outermost, then τ, then W). τ = κ makes W irrelevant (every masked position needs κ), so
 * such a pair runs once, with the grid's first W.
 */
export function gridSettings(strategies: readonly CalibratedStrategy[], grid: CalibrationGrid): CalibrationSetting[] {
    const settings: CalibrationSetting[] = [];
    for (const strategy of strategies) {
        if (strategy === "threshold") {
            for (const threshold of unique(grid.threshold)) settings.push({ strategy, threshold });
            continue;
        }
        const radii = unique(grid.radius);
        for (const anchorThreshold of unique(grid.anchorThreshold)) {
            for (const relaxedThreshold of unique(grid.relaxedThreshold)) {
                if (relaxedThreshold > anchorThreshold) continue;
                for (const radius of relaxedThreshold === anchorThreshold ? radii.slice(0, 1) : radii) {
                    settings.push({ strategy, anchorThreshold, relaxedThreshold, radius });
                }
            }
        }
    }
    return settings;
}

/** A setting's parameters as generate() options. */
export function settingOptions(setting: CalibrationSetting): Record<string, number | string> {
    return setting.strategy === "threshold"
        ? { strategy: "threshold", threshold: setting.threshold }
        : { strategy: "localleap", anchorThreshold: setting.anchorThreshold, relaxedThreshold: setting.relaxedThreshold, radius: setting.radius };
}

/** A short label: "localleap κ 0.9 τ 0.7 W 4", "threshold θ 0.8". */
export function settingLabel(setting: CalibrationSetting): string {
    return setting.strategy === "threshold"
        ? `threshold θ ${setting.threshold}`
        : `localleap κ ${setting.anchorThreshold} τ ${setting.relaxedThreshold} W ${setting.radius}`;
}

const unique = (values: readonly number[]) => [...new Set(values)];
