/** The CUDA version in a torch version's local tag: "2.11.0+cu130" → "13.0", "2.5.1+cu124" → "12.4"; "" otherwise. */
export function cudaFromTorchVersion(torchVersion: string): string {
    const match = /\+cu(\d+)(\d)$/.exec(torchVersion.trim());
    return match ? `${Number(match[1])}.${match[2]}` : "";
}
