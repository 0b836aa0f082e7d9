import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SENSITIVE_DETECTORS } from '#libs/config';
import { containsCardNumber, luhnValid, sensitiveDataCheck } from './sensitive-data.js';

const all = sensitiveDataCheck(SENSITIVE_DETECTORS);
const digits = (text: string) => [...text].map(Number);

describe('sensitive data detectors', () => {
  it('check card numbers with Luhn: valid numbers are found, one digit off is not', () => {
    assert.equal(luhnValid(digits('4111111111111111')), true);
    assert.equal(luhnValid(digits('4111111111111112')), false);
    assert.equal(luhnValid(digits('378282246310005')), true, 'Amex, 15 digits');
    assert.equal(luhnValid(digits('6011111111111117')), true, 'Discover');
    assert.equal(luhnValid(digits('5555555555554444')), true, 'Mastercard');
    assert.equal(luhnValid(digits('5555555555554445')), false);
    for (const text of [
      'card 4111111111111111 on file',
      '4111 1111 1111 1111',
      '4111-1111-1111-1111',
      'amex:378282246310005.',
      '6011111111111117',
    ]) {
      assert.equal(containsCardNumber(text), true, text);
    }
    for (const text of [
      '4111111111111112', // fails Luhn
      '4111 1111 1111 1112',
      '41111111111111111111111', // 23 digits: an id, not a card
      '4111  1111 1111 1111', // two spaces break the run into groups too short
      '1767225600009', // a timestamp in ms (13 digits, Luhn-valid as it happens, but cards do not start with 1)
      '411111111111', // 12 digits
      'no digits at all',
    ]) {
      assert.equal(containsCardNumber(text), false, text);
    }
    assert.equal(luhnValid(digits('1767225600009')), true, 'the timestamp above does pass Luhn');
  });

  it('find each kind of sensitive data in strings, keys and numbers at any depth', () => {
    const jwt =
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
    const cases: [detector: string, value: unknown][] = [
      ['email', { contact: 'Write to ada.lovelace+work@example.co.uk please' }],
      ['email', { 'ada@example.org': true }],
      ['card_number', { payment: { number: 4111111111111111 } }],
      ['card_number', ['x', ['4111 1111 1111 1111']]],
      ['jwt', { token: jwt }],
      ['api_key', { key: 'sk-proj-abcdefghijklmnopqrstuvwxyz0123' }],
      ['aws_access_key', { id: 'AKIAIOSFODNN7EXAMPLE' }],
      ['aws_access_key', 'ASIAY34FZKBOKMUTVV7A'],
      ['private_key', { pem: '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----' }],
      ['private_key', '-----BEGIN PRIVATE KEY-----'],
      ['bearer_token', { headers: { authorization: 'Bearer abcdefghijklmnop0123456789' } }],
      ['bearer_token', 'bearer abcdefghijklmnopqrstu=='],
    ];
    for (const [detector, value] of cases) assert.equal(all(value), detector, JSON.stringify(value));
  });

  it('pass ordinary results', () => {
    for (const value of [
      null,
      42,
      1767225600000,
      { status: 200, body: { items: [1, 2, 3], next: null }, headers: { 'content-type': 'application/json' } },
      'user at example dot org',
      '@handle and a@b',
      'sk-short',
      'AKIA too short',
      'the bearer of good news',
      'eyJhbGciOiJIUzI1NiJ9',
      { id: '41111111111111111111111', price: 4111.11 },
    ]) {
      assert.equal(all(value), null, JSON.stringify(value));
    }
  });

  it('use only the detectors named, plus extra RE2 patterns named by position', () => {
    const emailOnly = sensitiveDataCheck(['email']);
    assert.equal(emailOnly({ card: '4111111111111111', mail: 'a@example.org' }), 'email');
    assert.equal(emailOnly({ card: '4111111111111111' }), null);
    assert.equal(sensitiveDataCheck([])({ mail: 'a@example.org' }), null);
    const custom = sensitiveDataCheck([], ['^never$', 'ACME-[0-9]{6}']);
    assert.equal(custom({ ref: 'order ACME-123456' }), 'pattern:1');
    assert.equal(custom({ ref: 'order ACME-12345' }), null);
  });

  it('scan a large result in linear time', () => {
    // V8's backtracking engine takes quadratic time for the email pattern on a long run of word characters.
    const long = 'a'.repeat(1 << 20);
    const started = performance.now();
    assert.equal(all({ long, digits: '7'.repeat(1 << 20), at: `${long}@` }), null);
    assert.ok(performance.now() - started < 5_000, `${performance.now() - started} ms`);
  });
});
