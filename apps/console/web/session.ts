/**
 * The API key lives in sessionStorage: this tab only, gone when it closes, never in a URL (streams send it as a
 * header over fetch, which EventSource cannot).
 */
const KEY = 'orchestrator.apiKey';

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  signIn: (key: string): void => sessionStorage.setItem(KEY, key),
  signOut: (): void => sessionStorage.removeItem(KEY),
};
