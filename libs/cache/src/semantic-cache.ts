import type { CacheEntry, NodeResult, WriteOutcome } from './node-result-cache.js';
import type { SemanticCacheStore, SemanticNeighbour, SemanticScope } from './semantic-cache-store.js';
import type { SensitiveDataCheck } from './sensitive-data.js';

/** A prompt's embedding, from the embeddings API; throws when there is none (down, slow, malformed). */
export type Embed = (text: string) => Promise<number[]>;

/** An answer served for a similar prompt, and how similar. */
export interface SemanticHit extends CacheEntry {
  readonly similarity: number;
}

/**
 * hit: a cached answer to a similar prompt; miss: none similar enough, the model was asked; bypass: the prompt holds
 * sensitive data, the model was asked and nothing stored; error: the embeddings API or the vector database failed,
 * the model was asked.
 */
export type SemanticLookupOutcome = 'hit' | 'miss' | 'bypass' | 'error';

export type SemanticServed =
  | { readonly outcome: 'hit'; readonly entry: SemanticHit }
  | {
      readonly outcome: Exclude<SemanticLookupOutcome, 'hit'>;
      readonly result: NodeResult;
      readonly durationMs: number;
      readonly write: WriteOutcome;
      /** Which detector kept the prompt or the answer out. */
      readonly sensitive?: string;
      /** What failed, for the log. */
      readonly failure?: string;
    };

export interface SemanticRequest {
  readonly scope: SemanticScope;
  /** The rendered user prompt: what is embedded and compared. */
  readonly prompt: string;
  /** Served from this cosine similarity up. */
  readonly similarity: number;
  readonly ttlMs: number;
  /** The attempt: named in the entry as the answer's producer. */
  readonly runId: string;
  readonly nodeId: string;
}

export interface SemanticCacheOptions {
  readonly dimensions: number;
  /** CACHE_MAX_ENTRY_BYTES */
  readonly maxEntryBytes: number;
  readonly sensitive: SensitiveDataCheck;
}

/**
 * The semantic cache of agent nodes: embeds the prompt, serves the nearest cached answer of the same scope when it is
 * similar enough, else asks the model and keeps its answer (not a failure, nor one too large or holding sensitive
 * data). The vector search decides what is similar; this class only compares its similarity with the threshold.
 *
 * A prompt holding sensitive data is neither looked up nor stored: prompts that differ only in an email address or a
 * card number are near each other, and one person's answer would be served for another's data.
 *
 * The embeddings API or the vector database failing is never the node's failure: the model is asked, uncached.
 */
export class SemanticCache {
  constructor(
    private readonly store: SemanticCacheStore,
    private readonly embed: Embed,
    private readonly options: SemanticCacheOptions,
  ) {}

  async through(request: SemanticRequest, execute: () => Promise<NodeResult>): Promise<SemanticServed> {
    const sensitivePrompt = this.options.sensitive(request.prompt);
    if (sensitivePrompt) return this.uncached(execute, 'bypass', { sensitive: sensitivePrompt });
    let embedding: number[];
    let nearest: SemanticNeighbour | null;
    try {
      embedding = this.checked(await this.embed(request.prompt));
    } catch (error) {
      return this.uncached(execute, 'error', { failure: `embeddings: ${(error as Error).message}` });
    }
    try {
      nearest = await this.store.nearest(request.scope, embedding, request.similarity);
    } catch (error) {
      return this.uncached(execute, 'error', { failure: `vector database: ${(error as Error).message}` });
    }
    if (nearest && nearest.similarity >= request.similarity) {
      const { output, runId, nodeId, producedAt, durationMs, similarity } = nearest;
      return { outcome: 'hit', entry: { output, runId, nodeId, producedAt, durationMs, similarity } };
    }
    const started = Date.now();
    const result = await execute();
    const finishedAt = Date.now();
    const durationMs = finishedAt - started;
    const kept = this.keep(result);
    if (!('outputJson' in kept)) return { outcome: 'miss', result, durationMs, ...kept };
    let write: WriteOutcome = 'stored';
    try {
      await this.store.insert(request.scope, {
        embedding,
        outputJson: kept.outputJson,
        runId: request.runId,
        nodeId: request.nodeId,
        producedAt: finishedAt,
        durationMs,
        ttlMs: request.ttlMs,
      });
    } catch {
      write = 'error';
    }
    return { outcome: 'miss', result, durationMs, write };
  }

  private async uncached(
    execute: () => Promise<NodeResult>,
    outcome: 'bypass' | 'error',
    why: { sensitive?: string; failure?: string },
  ): Promise<SemanticServed> {
    const started = Date.now();
    const result = await execute();
    return { outcome, result, durationMs: Date.now() - started, write: 'skipped', ...why };
  }

  /** The answer's JSON to store, or why it is not stored. */
  private keep(result: NodeResult): { outputJson: string } | { write: WriteOutcome; sensitive?: string } {
    if (!result.ok) return { write: 'failed' };
    const outputJson = JSON.stringify(result.output ?? null);
    if (Buffer.byteLength(outputJson) > this.options.maxEntryBytes) return { write: 'too_large' };
    const sensitive = this.options.sensitive(result.output);
    if (sensitive) return { write: 'sensitive', sensitive };
    return { outputJson };
  }

  /** An embedding the vector search can compare: the configured length, finite, not all zeros (no direction). */
  private checked(embedding: number[]): number[] {
    if (embedding.length !== this.options.dimensions) {
      throw new Error(`an embedding of ${embedding.length} dimensions, not ${this.options.dimensions}`);
    }
    if (!embedding.every(Number.isFinite)) throw new Error('an embedding with a value that is not a finite number');
    if (embedding.every((x) => x === 0)) throw new Error('an embedding of zeros (no direction to compare)');
    return embedding;
  }
}
