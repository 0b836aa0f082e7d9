import { z } from 'zod';

/**
 * The part of the OpenAI Chat Completions protocol (POST {base}/chat/completions) agent nodes use. OpenAI, Azure
 * OpenAI's v1 API, vLLM, Ollama, llama.cpp's server and most gateways speak it, so one client covers them.
 */
export interface ChatCompletionRequest {
  model: string;
  messages: { role: 'system' | 'user'; content: string }[];
  temperature?: number;
  max_tokens?: number;
}

export const chatCompletionResponse = z.object({
  model: z.string().optional(),
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullable() }),
        finish_reason: z.string().nullable().optional(),
      }),
    )
    .min(1),
  usage: z
    .object({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number().optional() })
    .optional(),
});

/** An error answer: `{"error": {"message", "type", "code"}}`. */
export const chatCompletionError = z.object({
  error: z.object({ message: z.string(), type: z.string().nullable().optional() }),
});

/** What an agent node outputs (and later nodes read as `nodes.<id>`). */
export interface AgentOutput {
  text: string;
  model: string;
  /** `stop`, or `length` when maxTokens cut the answer short. */
  finishReason: string | null;
  usage: { promptTokens: number; completionTokens: number } | null;
}
