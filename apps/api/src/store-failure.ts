import { isDataException } from '#libs/db';
import { ProblemError } from '#libs/platform';

/**
 * The answer to a request its group commit could not store. The database's own message stays in the log (it names
 * tables, columns, sometimes hosts and users); the client learns whether to retry. A data exception is only reported
 * for a request that failed alone (group commit splits a failed batch), so it is this request's own value.
 */
export const storeFailure =
  (what: string) =>
  (error: unknown): ProblemError => {
    if (error instanceof ProblemError) return error;
    if (isDataException(error)) {
      return new ProblemError('malformed_request', `the ${what} holds a value that cannot be stored`, undefined, {
        cause: error,
      });
    }
    return new ProblemError('dependency_unavailable', `could not store the ${what}; retry shortly`, undefined, {
      cause: error,
      retryAfterSeconds: 1,
    });
  };

/** A full group-commit queue: the database does not keep up, and the client should come back a little later. */
export const tooManyWaiting = (what: string) => (): ProblemError =>
  new ProblemError('overloaded', `too many ${what} are waiting to be stored; retry shortly`, undefined, {
    retryAfterSeconds: 1,
  });
