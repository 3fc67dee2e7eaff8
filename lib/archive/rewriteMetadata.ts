import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import yauzl from "yauzl";
import yazl from "yazl";
import { ArchiveWriteError, LocalleapError, ModelCorruptError, ModelMetadataError, ModelNotFoundError } from "../errors";
import { type ModelMetadata, parseModelMetadata } from "../metadata";

/** The metadata record's name inside the archive's top folder (docs/model-format.md). */
const METADATA_SUFFIX = "/extra/localleap.json";
/** The engine's bound on localleap.json (docs/model-format.md "Size limits"). */
const MAX_METADATA_BYTES = 2 ** 20;

interface ArchiveEntry {
    entry: yauzl.Entry;
    name: string;
}

const openZip = (file: string): Promise<yauzl.ZipFile> =>
    new Promise((resolve, reject) => {
        yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: true }, (error, zip) => (error ? reject(error) : resolve(zip)));
    });

const readEntries = (zip: yauzl.ZipFile): Promise<ArchiveEntry[]> =>
    new Promise((resolve, reject) => {
        const entries: ArchiveEntry[] = [];
        zip.on("entry", (entry: yauzl.Entry) => {
            entries.push({ entry, name: entry.fileName });
            zip.readEntry();
        });
        zip.once("end", () => resolve(entries));
        zip.once("error", reject);
        zip.readEntry();
    });

const openEntry = (zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> =>
    new Promise((resolve, reject) => zip.openReadStream(entry, (error, stream) => (error ? reject(error) : resolve(stream))));

async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await openEntry(zip, entry)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
}

/** An archive opened for reading its metadata: the zip, its entries and the parsed localleap.json. */
export interface OpenedArchive {
    zip: yauzl.ZipFile;
    entries: ArchiveEntry[];
    metadataEntry: ArchiveEntry;
    /** localleap.json as JSON (every field, known or not). */
    raw: Record<string, unknown>;
    /** The validated metadata. */
    metadata: ModelMetadata;
}

/**
 * Opens a model archive (a TorchScript zip) and reads its localleap.json without libtorch.
 * Rejects with ModelNotFoundError, ModelCorruptError (not a zip) or ModelMetadataError.
 */
export async function openArchive(file: string): Promise<OpenedArchive> {
    const info = await stat(file).catch(() => null);
    if (info === null || !info.isFile()) throw new ModelNotFoundError(`no model file at ${file}`);
    let zip: yauzl.ZipFile;
    let entries: ArchiveEntry[];
    try {
        zip = await openZip(file);
        entries = await readEntries(zip);
    } catch (error) {
        throw new ModelCorruptError(`${file} is not a readable zip archive: ${(error as Error).message}`, error);
    }
    try {
        const found = entries.filter((e) => e.name.endsWith(METADATA_SUFFIX) && e.name.indexOf("/") === e.name.length - METADATA_SUFFIX.length);
        const metadataEntry = found[0];
        if (metadataEntry === undefined || found.length > 1) {
            throw new ModelMetadataError("localleap.json", `${file} has ${found.length === 0 ? "no" : "more than one"} extra/localleap.json record`);
        }
        if (metadataEntry.entry.uncompressedSize > MAX_METADATA_BYTES) {
            throw new ModelMetadataError("localleap.json", `localleap.json in ${file} is ${metadataEntry.entry.uncompressedSize} bytes, over the 1 MiB limit`);
        }
        const text = (await readEntry(zip, metadataEntry.entry)).toString("utf8");
        const metadata = parseModelMetadata(text, file);
        return { zip, entries, metadataEntry, raw: JSON.parse(text) as Record<string, unknown>, metadata };
    } catch (error) {
        zip.close();
        if (error instanceof ModelMetadataError) throw error;
        throw new ModelCorruptError(`${file}: its metadata record cannot be read: ${(error as Error).message}`, error);
    }
}

/** Options of {@link rewriteArchiveMetadata}. */
export interface RewriteArchiveOptions {
    /** Called with the finished temporary file before it is renamed into place (e.g. to load it); a rejection aborts the write. */
    verify?: (tempPath: string) => Promise<void>;
}

/**
 * Writes a copy of the archive `source` to `dest` with only its localleap.json replaced by
 * `edit(raw)` (validated with parseModelMetadata first). Every other record is copied with its
 * name, bytes, compression method and time; nothing is inflated into memory. The copy is written
 * to a temporary file next to `dest`, read back (entry names and the new metadata), passed to
 * `verify`, then renamed over `dest`, so that `dest` is either the old file or the complete new
 * one. `dest` may equal `source` (an in-place rewrite). Resolves to the metadata written.
 */
export async function rewriteArchiveMetadata(
    source: string,
    dest: string,
    edit: (raw: Record<string, unknown>) => Record<string, unknown>,
    options: RewriteArchiveOptions = {},
): Promise<ModelMetadata> {
    const archive = await openArchive(source);
    const newRaw = edit(archive.raw);
    const newText = `${JSON.stringify(newRaw, null, 1)}\n`;
    let written: ModelMetadata;
    try {
        written = parseModelMetadata(newText, `the new metadata for ${dest}`);
        if (Buffer.byteLength(newText) > MAX_METADATA_BYTES) throw new ModelMetadataError("localleap.json", "the new localleap.json is over the 1 MiB limit");
    } catch (error) {
        archive.zip.close();
        throw error;
    }
    const dir = path.dirname(path.resolve(dest));
    const temp = path.join(dir, `.${path.basename(dest)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    try {
        await writeCopy(archive, temp, Buffer.from(newText, "utf8"));
        await checkCopy(temp, archive.entries.map((e) => e.name), newText);
        await options.verify?.(temp);
        await rename(temp, dest);
    } catch (error) {
        await rm(temp, { force: true }).catch(() => undefined);
        // The verify hook's typed errors (a load that fails) say more than a wrapper would.
        if (error instanceof LocalleapError) throw error;
        throw new ArchiveWriteError(`writing ${dest} failed: ${(error as Error)?.message ?? String(error)}`, error);
    } finally {
        archive.zip.close();
    }
    return written;
}

async function writeCopy(archive: OpenedArchive, temp: string, metadataBytes: Buffer): Promise<void> {
    const out = new yazl.ZipFile();
    const file = createWriteStream(temp, { flags: "wx" });
    const done = new Promise<void>((resolve, reject) => {
        file.once("close", resolve);
        file.once("error", reject);
        out.outputStream.once("error", reject);
    });
    out.outputStream.pipe(file);
    let failure: unknown;
    for (const { entry, name } of archive.entries) {
        const mtime = entry.getLastModDate();
        if (entry === archive.metadataEntry.entry) {
            out.addBuffer(metadataBytes, name, { compress: false, mtime });
            continue;
        }
        out.addReadStreamLazy(name, { compress: entry.compressionMethod === 8, size: entry.uncompressedSize, mtime }, (callback) => {
            openEntry(archive.zip, entry).then(
                (stream) => callback(null, stream),
                (error: unknown) => {
                    failure ??= error;
                    callback(error as Error, undefined as unknown as Readable);
                },
            );
        });
    }
    out.end();
    await done;
    if (failure !== undefined) throw failure;
    // The rename must not publish data still in the page cache only.
    const handle = await open(temp, "r+");
    try {
        await handle.sync();
    } finally {
        await handle.close();
    }
}

/** Reads the copy back: the same entries in the same order, and the new metadata. */
async function checkCopy(temp: string, names: string[], metadataText: string): Promise<void> {
    const copy = await openArchive(temp).catch((error: unknown) => {
        throw new ArchiveWriteError(`the archive written is not readable: ${(error as Error).message}`, error);
    });
    try {
        const copied = copy.entries.map((e) => e.name);
        if (copied.length !== names.length || copied.some((name, i) => name !== names[i])) {
            throw new ArchiveWriteError(`the archive written has ${copied.length} records, the source ${names.length}, or they differ`);
        }
        const text = (await readEntry(copy.zip, copy.metadataEntry.entry)).toString("utf8");
        if (text !== metadataText) throw new ArchiveWriteError("the archive written does not hold the new localleap.json");
    } finally {
        copy.zip.close();
    }
}
