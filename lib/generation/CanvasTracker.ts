import type { CommittedToken } from "../types";

/**
 * The generated span of one row as steps fill it in, for streaming: committed tokens by
 * position, the rest masked. Renders the text a viewer sees mid-generation.
 */
export class CanvasTracker {
    private readonly tokens: Int32Array;
    /** Leading committed positions. */
    private finalLength = 0;

    constructor(
        genLength: number,
        private readonly endIds: ReadonlySet<number>,
        private readonly decode: ((ids: number[]) => string) | null,
        private readonly maskGlyph: string,
    ) {
        this.tokens = new Int32Array(genLength).fill(-1);
    }

    commit(committed: readonly CommittedToken[]): void {
        for (const { position, token } of committed) this.tokens[position] = token;
        while (this.finalLength < this.tokens.length && (this.tokens[this.finalLength] as number) >= 0) this.finalLength++;
    }

    /** The committed tokens from position 0 up to the first still-masked one: text that cannot change. */
    finalPrefix(): number[] {
        return Array.from(this.tokens.subarray(0, this.finalLength));
    }

    /** Whether every position is committed. */
    get complete(): boolean {
        return this.finalLength === this.tokens.length;
    }

    /**
     * Committed text with one mask glyph per still-masked position, up to the first end token.
     * Runs of committed tokens are decoded together, so multi-token characters come out whole.
     */
    text(): string {
        if (this.decode === null) return "";
        let out = "";
        let run: number[] = [];
        const flush = () => {
            if (run.length > 0) out += (this.decode as (ids: number[]) => string)(run);
            run = [];
        };
        for (const token of this.tokens) {
            if (token >= 0 && this.endIds.has(token)) break;
            if (token < 0) {
                flush();
                out += this.maskGlyph;
            } else {
                run.push(token);
            }
        }
        flush();
        return out;
    }
}
