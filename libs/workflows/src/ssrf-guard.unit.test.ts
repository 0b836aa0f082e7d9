import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isForbiddenHost } from './ssrf-guard.js';
import { apiExample } from './test-fixtures.js';
import { validateDefinition } from './validate-definition.js';
import type { DefinitionOptions } from './workflow-definition.js';

/** The url error of an http_request node aimed at `url`, or null if the definition is accepted. */
function urlError(url: string, options?: DefinitionOptions): string | null {
  const definition = apiExample();
  definition.nodes.fetch!.config.url = url;
  const result = validateDefinition(definition, options);
  if (result.ok) return null;
  assert.equal(result.errors.length, 1, result.errors.join('\n'));
  return result.errors[0] ?? null;
}

describe('SSRF guard in validateDefinition', () => {
  it('refuses loopback, private, link-local and metadata targets, naming host and reason', () => {
    const cases: [url: string, message: string][] = [
      ['http://localhost:8080/', 'localhost (localhost)'],
      ['http://api.localhost/', 'api.localhost (localhost)'],
      ['http://LOCALHOST./', 'localhost. (localhost)'],
      ['http://127.0.0.1/', '127.0.0.1 (loopback)'],
      ['http://127.1/', '127.0.0.1 (loopback)'],
      ['http://2130706433/', '127.0.0.1 (loopback)'],
      ['http://0x7f000001/', '127.0.0.1 (loopback)'],
      ['http://0177.0.0.01/', '127.0.0.1 (loopback)'],
      ['http://0x7f.1/', '127.0.0.1 (loopback)'],
      ['http://[::1]:8080/', '[::1] (loopback)'],
      ['http://[0:0:0:0:0:0:0:1]/', '[::1] (loopback)'],
      ['http://0.0.0.0/', '0.0.0.0 (unspecified)'],
      ['http://0/', '0.0.0.0 (unspecified)'],
      ['http://[::]/', '[::] (unspecified)'],
      ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 (cloud metadata endpoint)'],
      ['http://metadata.google.internal/computeMetadata/v1/', 'metadata.google.internal (cloud metadata endpoint)'],
      ['http://[fd00:ec2::254]/', '[fd00:ec2::254] (cloud metadata endpoint)'],
      ['http://169.254.10.1/', '169.254.10.1 (link-local)'],
      ['http://[fe80::1]/', '[fe80::1] (link-local)'],
      ['http://10.1.2.3/', '10.1.2.3 (private)'],
      ['http://172.16.0.1/', '172.16.0.1 (private)'],
      ['http://172.31.255.255/', '172.31.255.255 (private)'],
      ['https://192.168.1.1/', '192.168.1.1 (private)'],
      ['http://[fc00::1]/', '[fc00::1] (private)'],
      ['http://[fdff::1]/', '[fdff::1] (private)'],
      ['http://100.64.0.1/', '100.64.0.1 (shared address space (CGNAT))'],
      ['http://[::ffff:127.0.0.1]/', '[::ffff:7f00:1] (loopback, IPv4-mapped 127.0.0.1)'],
      ['http://[::ffff:169.254.169.254]/', '[::ffff:a9fe:a9fe] (cloud metadata endpoint, IPv4-mapped 169.254.169.254)'],
      ['http://[::ffff:a00:1]/', '[::ffff:a00:1] (private, IPv4-mapped 10.0.0.1)'],
    ];
    for (const [url, message] of cases) {
      assert.equal(urlError(url), `nodes.fetch.config.url: http_request may not target ${message}`, url);
    }
  });

  it('allows public hosts and addresses just outside the refused ranges', () => {
    for (const url of [
      'https://example.org/x',
      'http://8.8.8.8/',
      'http://172.32.0.1/',
      'http://172.15.255.255/',
      'http://100.128.0.1/',
      'http://192.169.0.1/',
      'http://[2606:4700::1111]/',
      'http://[::ffff:8.8.8.8]/',
      'http://localhost.example.org/',
      'http://notlocalhost/',
    ]) {
      assert.equal(urlError(url), null, url);
    }
  });

  it('lets allowedHosts exempt exact hosts, after the same URL normalization', () => {
    const allowedHosts = ['127.0.0.1', 'LocalHost', '::1', 'wiremock.internal'];
    assert.equal(urlError('http://127.0.0.1:9000/', { allowedHosts }), null);
    assert.equal(urlError('http://2130706433/', { allowedHosts }), null);
    assert.equal(urlError('http://localhost/', { allowedHosts }), null);
    assert.equal(urlError('http://[::1]/', { allowedHosts }), null);
    // Exact means exact: neither the rest of 127/8 nor subdomains.
    assert.match(urlError('http://127.0.0.2/', { allowedHosts }) ?? '', /127\.0\.0\.2 \(loopback\)/);
    assert.match(urlError('http://a.localhost/', { allowedHosts }) ?? '', /a\.localhost \(localhost\)/);
  });
});

describe('isForbiddenHost', () => {
  it('takes URL hostnames and bare IPs alike', () => {
    assert.equal(isForbiddenHost('[::1]'), 'loopback');
    assert.equal(isForbiddenHost('::1'), 'loopback');
    assert.equal(isForbiddenHost('::ffff:127.0.0.1'), 'loopback, IPv4-mapped 127.0.0.1');
    assert.equal(isForbiddenHost('127.1'), 'loopback');
    assert.equal(isForbiddenHost('2130706433'), 'loopback');
    assert.equal(isForbiddenHost('fe80::1%eth0'), 'link-local');
    assert.equal(isForbiddenHost('[::7f00:1]'), 'loopback, IPv4-compatible 127.0.0.1');
    assert.equal(isForbiddenHost('64:ff9b::a9fe:a9fe'), 'cloud metadata endpoint, NAT64 169.254.169.254');
    assert.equal(isForbiddenHost('255.255.255.255'), 'reserved');
    assert.equal(isForbiddenHost('224.0.0.1'), 'multicast');
    assert.equal(isForbiddenHost(''), 'empty hostname');
    assert.equal(isForbiddenHost('example.org'), null);
    assert.equal(isForbiddenHost('93.184.215.14'), null);
  });

  it('refuses the special-purpose ranges that reach local or translated hosts', () => {
    assert.equal(isForbiddenHost('192.0.0.8'), 'IETF protocol assignments');
    assert.equal(isForbiddenHost('192.0.0.170'), 'IETF protocol assignments');
    assert.equal(isForbiddenHost('198.18.0.1'), 'benchmarking');
    assert.equal(isForbiddenHost('198.19.255.254'), 'benchmarking');
    assert.equal(isForbiddenHost('[2002:7f00:1::]'), '6to4');
    assert.equal(isForbiddenHost('2002:a9fe:a9fe::1'), '6to4');
    assert.equal(isForbiddenHost('64:ff9b:1::a9fe:a9fe'), 'local-use NAT64');
    assert.equal(isForbiddenHost('example.org', [], '198.18.5.5'), 'benchmarking');
    // Neighbours stay allowed.
    assert.equal(isForbiddenHost('192.0.1.1'), null);
    assert.equal(isForbiddenHost('198.20.0.1'), null);
    assert.equal(isForbiddenHost('2003::1'), null);
  });

  it('judges the resolved address when given one, unless the hostname itself is allowed', () => {
    assert.equal(isForbiddenHost('example.org', [], '127.0.0.1'), 'loopback');
    assert.equal(isForbiddenHost('example.org', [], '::ffff:10.0.0.1'), 'private, IPv4-mapped 10.0.0.1');
    assert.equal(isForbiddenHost('example.org', [], '169.254.169.254'), 'cloud metadata endpoint');
    assert.equal(isForbiddenHost('example.org', [], '93.184.215.14'), null);
    assert.equal(isForbiddenHost('wiremock.internal', ['Wiremock.Internal.'], '10.0.0.5'), null, 'allowed name');
    assert.equal(isForbiddenHost('example.org', ['10.0.0.5'], '10.0.0.5'), null, 'allowed address');
    assert.equal(isForbiddenHost('example.org', ['10.0.0.5'], '10.0.0.6'), 'private', 'another address');
  });
});
