import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeedCoreError, fromDbError } from '../src/errors.js';

describe('error family', () => {
  it('maps SQLSTATEs to stable codes and keeps the cause', () => {
    const pgError = Object.assign(new Error('illegal transition alive -> starting'), { code: '55000' });
    const e = fromDbError(pgError);
    assert.equal(e.code, 'SEEDCORE_CONFLICT');
    assert.equal(e.cause, pgError);
    assert.equal(fromDbError(Object.assign(new Error('x'), { code: '22P02' })).code, 'SEEDCORE_INVALID_INPUT');
    assert.equal(fromDbError(Object.assign(new Error('x'), { code: '23503' })).code, 'SEEDCORE_NOT_FOUND');
    assert.equal(fromDbError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).code, 'SEEDCORE_UNAVAILABLE');
    const already = new SeedCoreError('SEEDCORE_FENCED', 'x');
    assert.equal(fromDbError(already), already, 'wrapping is idempotent');
    assert.deepEqual(already.toJSON(), { code: 'SEEDCORE_FENCED', message: 'x' });
  });
});
