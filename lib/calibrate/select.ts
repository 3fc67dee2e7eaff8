/** What the selection rule needs of a grid point. */
export interface ScoredSetting {
    /** Quality in % (accuracy, or agreement with the baseline's text). */
    quality: number;
    /** Mean forward passes per prompt. */
    meanSteps: number;
}

/** Slack for floating-point noise in quality differences (points are k / n x 100). */
const EPSILON = 1e-9;

/** Quality lost against the baseline, in points (negative when the setting does better). */
export function qualityLoss(baselineQuality: number, quality: number): number {
    return baselineQuality - quality;
}

/** Whether a setting's loss against the baseline stays within `budget` points. */
export function withinBudget(baselineQuality: number, quality: number, budget: number): boolean {
    return qualityLoss(baselineQuality, quality) <= budget + EPSILON;
}

/**
 * The selection rule of `localleap calibrate`, for the settings of one strategy: among those
 * whose loss (baseline quality − quality, in points) is at most `budget`, the one with the fewest
 * mean steps; ties go to the higher quality, then to the earlier setting in `settings` (the grid's
 * order). Returns its index, or null when no setting stays within the budget.
 */
export function selectSetting(settings: readonly ScoredSetting[], baselineQuality: number, budget: number): number | null {
    let best: number | null = null;
    settings.forEach((s, i) => {
        if (!withinBudget(baselineQuality, s.quality, budget)) return;
        if (best === null) {
            best = i;
            return;
        }
        const b = settings[best] as ScoredSetting;
        if (s.meanSteps < b.meanSteps || (s.meanSteps === b.meanSteps && s.quality > b.quality)) best = i;
    });
    return best;
}
