/**
 * The replica a new call goes to: among those with room (`hasRoom`), the one with the fewest
 * rows in flight (running or waiting), the lowest index on a tie; -1 when none has room.
 */
export function leastLoaded(rows: readonly number[], hasRoom: (replica: number) => boolean): number {
    let best = -1;
    for (let i = 0; i < rows.length; i++) {
        if (!hasRoom(i)) continue;
        if (best < 0 || (rows[i] as number) < (rows[best] as number)) best = i;
    }
    return best;
}
