// The prompt of a problem, as tools/train/evaluate.py builds it: the chat template with the
// question as the only (user) message and the generation prompt. evaluate.py writes
// chat_prompt(question) = BOS + "<|start_header_id|>user<|end_header_id|>\n\n" + question.strip()
// + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", which is what the model's
// chat template renders for these messages (it trims the content).
import type { ChatMessage } from "../../lib/types";

/** The chat messages of a problem. */
export function problemMessages(question: string): ChatMessage[] {
    return [{ role: "user", content: question }];
}
