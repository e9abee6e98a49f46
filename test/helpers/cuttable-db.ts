/**
 * A Db whose link to the database can be cut and restored, as a network partition does it:
 * while cut, every statement fails with a connection error (ECONNRESET) and writes nothing.
 * Fault injection over a real database, not a mock: every statement that passes runs for real.
 */
import type { Db } from '../../src/db/types.js';

export interface CuttableDb {
  db: Db;
  cut(): void;
  restore(): void;
}

function connectionLost(): Error {
  return Object.assign(new Error('Connection terminated unexpectedly (link cut by the test)'), { code: 'ECONNRESET' });
}

export function cuttable(real: Db): CuttableDb {
  let isCut = false;
  const guard = <T>(fn: () => Promise<T>): Promise<T> => (isCut ? Promise.reject(connectionLost()) : fn());
  const db = new Proxy(real, {
    // Not an instance of the concrete class: statements go through query(), which is guarded.
    getPrototypeOf: () => Object.prototype,
    get(target, prop, receiver) {
      if (prop === 'prepared') return undefined;
      if (prop === 'query') return (sql: string, params?: readonly unknown[]) => guard(() => target.query(sql, params));
      if (prop === 'transaction') return <T>(fn: Parameters<Db['transaction']>[0]) => guard(() => target.transaction(fn as never) as Promise<T>);
      if (prop === 'exec') return (sql: string) => guard(() => target.exec(sql));
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    db,
    cut: () => {
      isCut = true;
    },
    restore: () => {
      isCut = false;
    },
  };
}
