// Token ids of the problem prompts, for the eager PyTorch decoder (bench/eager_decoder.py), which
// must decode exactly the prompts the engine decodes. Built the way loadModel's prompt context
// does for a model without tokenizerPath (the metadata's chat template, the tokenizer's special
// tokens); bench/eager_vs_engine.ts checks the ids against the engine's own encoding of the
// chat messages before it uses them.
import type { ModelMetadata } from "../../lib/metadata";
import { encodePrompt, type PromptContext } from "../../lib/prompt/encodePrompt";
import { compileChatTemplate } from "../../lib/tokenizer/renderChatTemplate";
import { TextTokenizer } from "../../lib/tokenizer/TextTokenizer";
import { problemMessages } from "./prompt";

/** An encoder of questions into prompt ids, from a tokenizer folder and the model's metadata. */
export async function promptEncoder(tokenizerPath: string, metadata: ModelMetadata): Promise<(question: string) => number[]> {
    const tokenizer = await TextTokenizer.fromPath(tokenizerPath);
    const templateSource = metadata.chatTemplate ?? tokenizer.chatTemplate;
    if (templateSource === null) throw new Error(`neither the model nor ${tokenizerPath} has a chat template`);
    const bosId = metadata.addBos && metadata.bosToken !== null ? (tokenizer.tokenToId(metadata.bosToken) ?? null) : null;
    const ctx: PromptContext = {
        tokenizer,
        chatTemplate: compileChatTemplate(templateSource, tokenizer.source),
        bosToken: tokenizer.bosToken ?? metadata.bosToken,
        eosToken: tokenizer.eosToken ?? tokenizer.idToToken(metadata.eosId) ?? null,
        bosId,
        vocabSize: metadata.vocabSize,
        maskId: metadata.maskId,
    };
    return (question) => encodePrompt(problemMessages(question), ctx);
}
