import { InvalidInputError } from "../errors";

/**
 * Throws InvalidInputError when an id is not an integer in [0, vocabSize) or is the mask id
 * (a prompt never holds masks: the engine would treat them as positions to fill). Names up to
 * five bad positions. `what` says where the ids came from ("token ids", "the encoded prompt").
 */
export function checkTokenIds(ids: ArrayLike<number>, vocabSize: number, maskId: number, what: string): void {
    const bad: string[] = [];
    let count = 0;
    for (let i = 0; i < ids.length; i++) {
        const id = ids[i] as unknown;
        let why: string | undefined;
        if (typeof id !== "number" || !Number.isInteger(id)) why = `${String(id)} is not an integer`;
        else if (id < 0 || id >= vocabSize) why = `${id} is outside [0, ${vocabSize})`;
        else if (id === maskId) why = `${id} is the mask id`;
        if (why === undefined) continue;
        count++;
        if (bad.length < 5) bad.push(`[${i}]: ${why}`);
    }
    if (count === 0) return;
    const more = count > bad.length ? ` and ${count - bad.length} more` : "";
    throw new InvalidInputError(
        `${what} hold${what.endsWith("s") ? "" : "s"} ${count} invalid token id${count === 1 ? "" : "s"}: ${bad.join("; ")}${more}`,
        `token ids must be integers in [0, ${vocabSize}) other than the mask id ${maskId}`,
    );
}
