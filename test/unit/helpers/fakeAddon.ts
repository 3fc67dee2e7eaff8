import type {
    Addon,
    AddonAbortToken,
    AddonBuildInfo,
    AddonGenerateRequest,
    AddonGenerateResult,
    AddonLoadRequest,
    AddonLoadResult,
    AddonModel,
    AddonModelConfig,
    AddonModelInfo,
} from "../../../lib/bindings/AddonTypes";

export class FakeAbortToken implements AddonAbortToken {
    aborted = false;
    abort(): void {
        this.aborted = true;
    }
}

/** An AddonModel that records calls and answers from a script. */
export class FakeAddonModel implements AddonModel {
    disposed = false;
    disposeCalls = 0;
    configured: AddonModelConfig | undefined;
    requests: AddonGenerateRequest[] = [];
    /** The generated span the next generate returns (padded with `pad` to genLength). */
    nextTokens: number[] = [];
    pad = 0;
    /** When set, generate rejects with it. */
    generateError: Error | undefined;
    configureError: Error | undefined;
    /** When set, generate waits for it before answering (to test aborts). */
    gate: Promise<void> | undefined;

    async configure(config: AddonModelConfig): Promise<AddonModelInfo> {
        if (this.configureError) throw this.configureError;
        this.configured = config;
        return { device: "cpu", gpu: null, dtype: "float32", parameterBytes: 4096, kvCacheBytesPerPosition: config.kvCache ? 64 : 0 };
    }

    async generate(request: AddonGenerateRequest): Promise<AddonGenerateResult> {
        if (this.disposed) throw Object.assign(new Error("model disposed"), { code: "MODEL_DISPOSED" });
        this.requests.push(request);
        if (this.gate) await this.gate;
        if (request.abort?.aborted) throw Object.assign(new Error("generation aborted"), { code: "ABORTED" });
        if (this.generateError) throw this.generateError;
        const tokens = Int32Array.from({ length: request.genLength }, (_, i) => this.nextTokens[i] ?? this.pad);
        const blocks = Math.ceil(request.genLength / request.blockLength);
        return {
            rows: request.prompts.map(() => ({
                tokens, steps: blocks * 2, stepsPerBlock: Int32Array.from({ length: blocks }, () => 2),
                blockLengths: Int32Array.from({ length: blocks }, (_, k) => Math.min(request.blockLength, request.genLength - k * request.blockLength)),
            })),
            batchSteps: blocks * 2,
            totalMs: 100,
            stepMs: 80,
            fullSteps: request.cache === undefined || request.cache === "none" ? blocks * 2 : blocks,
            fullStepMs: request.cache === undefined || request.cache === "none" ? 80 : 50,
            cachedSteps: request.cache === undefined || request.cache === "none" ? 0 : blocks,
            cachedStepMs: request.cache === undefined || request.cache === "none" ? 0 : 30,
            cudaGraph: false,
            cudaGraphFallbackReason: "",
        };
    }

    async benchForward(): Promise<{ medianMs: number; minMs: number; cudaGraph: boolean }> {
        return { medianMs: 1, minMs: 1, cudaGraph: false };
    }

    async dispose(): Promise<void> {
        this.disposeCalls++;
        this.disposed = true;
    }
}

export interface FakeArchive {
    metadataJson?: string;
    tokenizerJson?: string;
    tokenizerConfigJson?: string;
    learnedFilterJson?: string;
    methods?: string[];
}

/** An Addon whose loadModel returns `archive` with a FakeAddonModel. */
export class FakeAddon implements Addon {
    models: FakeAddonModel[] = [];
    loadRequests: AddonLoadRequest[] = [];
    loadError: Error | undefined;
    AbortToken = FakeAbortToken;

    constructor(
        public archive: FakeArchive = {},
        public info: AddonBuildInfo = {
            variant: "cpu",
            torchVersion: "1.13.1",
            cudaVersion: "",
            cudaAvailable: false,
            cudaDeviceCount: 0,
            cudaDeviceName: "",
            defaultThreads: 4,
            sourceHash: "",
        },
    ) {}

    buildInfo(): AddonBuildInfo {
        return this.info;
    }

    async loadModel(request: AddonLoadRequest): Promise<AddonLoadResult> {
        this.loadRequests.push(request);
        if (this.loadError) throw this.loadError;
        request.onProgress?.({ stage: "reading", bytesRead: 10, totalBytes: 10 });
        const model = new FakeAddonModel();
        this.models.push(model);
        return {
            model,
            metadataJson: this.archive.metadataJson ?? "",
            tokenizerJson: this.archive.tokenizerJson ?? "",
            tokenizerConfigJson: this.archive.tokenizerConfigJson ?? "",
            learnedFilterJson: this.archive.learnedFilterJson ?? "",
            fileBytes: 1234,
            methods: this.archive.methods ?? ["forward", "logits_at", "logits_at_padded"],
        };
    }

    applyRule(): never {
        throw new Error("not used in unit tests");
    }

    applyApdTokens(): never {
        throw new Error("not used in unit tests");
    }

    benchKernel(): never {
        throw new Error("not used in unit tests");
    }
}
