/**
 * Guest responses are checked before they leave: through `POST /v1/execute` (an `invalid_response`
 * guest fault, status 500) and through the dev gateway (502 with the code, never a half-written
 * answer). The `wat-respond` guest answers whatever its request body describes, byte for byte.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { checkGuestResponse } from '../../src/service/guest-response.js';
import { createInstall, execute, startTestService, uploadExample, type Answer, type TestService } from './harness.js';

let svc: TestService;

before(async () => {
  svc = await startTestService({ examples: ['wat-respond'], env: { RUNNER_DEV_TENANT: 'dev-tenant' } });
  await uploadExample(svc, 'wat-respond', { name: 'respond' });
  await createInstall(svc, { tenant_id: 'tenant-a', extension_id: 'respond' });
  await createInstall(svc, { tenant_id: 'dev-tenant', extension_id: 'respond' });
});
after(async () => svc.close());

type Bytes = string | Buffer;

/** The wat-respond request body: status, headers (raw bytes), then the response body. */
function described(status: number, headers: [Bytes, Bytes][] = [], body?: Bytes): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(4);
  head.writeUInt16LE(status, 0);
  head.writeUInt16LE(headers.length, 2);
  parts.push(head);
  for (const [name, value] of headers) {
    for (const item of [name, value]) {
      const bytes = Buffer.from(item);
      const len = Buffer.alloc(2);
      len.writeUInt16LE(bytes.byteLength);
      parts.push(len, bytes);
    }
  }
  if (body !== undefined) parts.push(Buffer.from(body));
  return Buffer.concat(parts);
}

async function viaExecute(description: Buffer): Promise<Answer> {
  const r = await execute(svc, '/', {
    extension: 'respond',
    envelope: { context: { tenant_id: 'tenant-a', extension_id: 'respond' }, http: { method: 'POST', path: '/', headers: {}, body_b64: description.toString('base64') } },
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json;
}

interface RawReply {
  status: number;
  statusMessage: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: Buffer;
}

/** The dev gateway through node:http, so the test sees the status line and header lines as sent. */
function viaGateway(description: Buffer): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request(`${svc.url}/api/ext/respond/answer`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, statusMessage: res.statusMessage!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(description);
  });
}

/** Every header line with this name, as the UTF-8 text of its bytes. */
function lines(reply: RawReply, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < reply.rawHeaders.length; i += 2) {
    if (reply.rawHeaders[i]!.toLowerCase() === name) out.push(Buffer.from(reply.rawHeaders[i + 1]!, 'latin1').toString('utf8'));
  }
  return out;
}

describe('valid responses', () => {
  const headers: [Bytes, Bytes][] = [
    ['Content-Type', 'text/plain'],
    ['Set-Cookie', 'a=1; Path=/'],
    ['set-cookie', 'b=2, with a comma; HttpOnly'],
    ['constructor', 'c'],
    ['__proto__', 'p'],
    ['toString', 't'],
    ['x-multi', 'one'],
    ['X-Multi', 'two'],
    ['x-utf8', 'café €'],
    ['x-padded', ' \tpadded\t '],
    ['x-empty', ''],
  ];

  test('/v1/execute: names kept as sent (prototype names too), set-cookie a list, others joined, UTF-8 kept', async () => {
    const answer = await viaExecute(described(201, headers, 'made'));
    assert.equal(answer.status, 201);
    assert.equal(answer.error, undefined);
    assert.equal(Buffer.from(answer.body_b64!, 'base64').toString(), 'made');
    const h = answer.headers as Record<string, unknown>;
    assert.deepEqual(Object.keys(h).sort(), ['__proto__', 'constructor', 'content-type', 'set-cookie', 'tostring', 'x-empty', 'x-multi', 'x-padded', 'x-utf8']);
    assert.deepEqual(h['set-cookie'], ['a=1; Path=/', 'b=2, with a comma; HttpOnly']);
    assert.equal(h['constructor'], 'c');
    assert.ok(Object.hasOwn(h, '__proto__'));
    assert.equal(Object.getOwnPropertyDescriptor(h, '__proto__')?.value, 'p');
    assert.equal(h['tostring'], 't');
    assert.equal(h['x-multi'], 'one, two');
    assert.equal(h['x-utf8'], 'café €');
    assert.equal(h['x-padded'], 'padded');
    assert.equal(h['x-empty'], '');
  });

  test('a single set-cookie stays a string', async () => {
    const answer = await viaExecute(described(200, [['set-cookie', 'only=1']]));
    assert.equal(answer.headers['set-cookie'], 'only=1');
  });

  test('dev gateway: each set-cookie its own line, prototype names as headers, UTF-8 bytes on the wire', async () => {
    const reply = await viaGateway(described(201, headers, 'made'));
    assert.equal(reply.status, 201);
    assert.equal(reply.body.toString(), 'made');
    assert.deepEqual(lines(reply, 'set-cookie'), ['a=1; Path=/', 'b=2, with a comma; HttpOnly']);
    assert.deepEqual(lines(reply, 'constructor'), ['c']);
    assert.deepEqual(lines(reply, '__proto__'), ['p']);
    assert.deepEqual(lines(reply, 'x-multi'), ['one, two']);
    assert.deepEqual(lines(reply, 'x-utf8'), ['café €']);
    assert.deepEqual(lines(reply, 'content-type'), ['text/plain']);
  });

  test('204 and 304 without a body pass', async () => {
    for (const status of [204, 304]) {
      const answer = await viaExecute(described(status, [['etag', '"x"']]));
      assert.equal(answer.status, status);
      assert.equal(answer.body_b64, undefined);
      const reply = await viaGateway(described(status, [['etag', '"x"']]));
      assert.equal(reply.status, status);
      assert.equal(reply.body.byteLength, 0);
    }
  });
});

describe('invalid responses: invalid_response, saying why', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['a CR LF in a header name', described(200, [['x-a\r\nx-b', 'v']]), /header 1 \("x-a\\r\\nx-b"\): the name is not an HTTP token/],
    [
      'a CR LF in a header value',
      described(200, [
        ['ok', 'fine'],
        ['x-split', 'v\r\nx-injected: 1'],
      ]),
      /header 2 \("x-split"\): the value contains a CR/,
    ],
    ['a lone LF in a header value', described(200, [['x-lf', 'a\nb']]), /the value contains an LF/],
    ['a NUL in a header value', described(200, [['x-nul', 'a\u0000b']]), /the value contains a NUL/],
    ['a NUL in a header name', described(200, [['x\u0000y', 'v']]), /the name is not an HTTP token/],
    ['an empty header name', described(200, [['', 'v']]), /header 1 \(""\): the name is not an HTTP token \(it is empty\)/],
    ['a space in a header name', described(200, [['x y', 'v']]), /the name is not an HTTP token/],
    ['invalid UTF-8 in a header value', described(200, [['x-bytes', Buffer.from([0x61, 0xff, 0x62])]]), /header 1 \("x-bytes"\): the value contains U\+FFFD/],
    ['invalid UTF-8 in a header name', described(200, [[Buffer.from([0x78, 0xc3, 0x28]), 'v']]), /the name is not an HTTP token/],
    ['a control character in a header value', described(200, [['x-bell', 'ring\u0007']]), /the control character U\+0007/],
    [
      'status 101',
      described(101, [
        ['upgrade', 'websocket'],
        ['connection', 'upgrade'],
      ]),
      /status 101 is not a final HTTP status/,
    ],
    ['status 199', described(199), /status 199/],
    ['status 600', described(600), /status 600/],
    ['status 0', described(0), /status 0/],
    ['204 with a body', described(204, [], 'not allowed'), /status 204 cannot have a body/],
    ['304 with a body', described(304, [], 'x'), /status 304 cannot have a body/],
  ];
  for (const [label, description, message] of cases) {
    test(label, async () => {
      const answer = await viaExecute(description);
      assert.equal(answer.status, 500);
      assert.equal(answer.error, 'invalid_response');
      assert.deepEqual(answer.headers, {});
      assert.equal(answer.body_b64, undefined);
      assert.match(answer.message!, message);
      const reply = await viaGateway(description);
      assert.equal(reply.status, 502);
      assert.equal(reply.statusMessage, 'Bad Gateway');
      assert.match(String(reply.headers['content-type']), /^application\/json/);
      const body = JSON.parse(reply.body.toString()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'invalid_response');
      assert.match(body.error.message, message);
      for (const leaked of ['x-injected', 'upgrade', 'x-split', 'x-bell']) assert.equal(reply.headers[leaked], undefined);
    });
  }
});

test('checkGuestResponse: lone surrogates refused, the body of a 200 kept, an empty body is none', () => {
  const lone = checkGuestResponse({ status: 200, headers: [{ name: 'x', value: 'a\ud800b' }], body: undefined });
  assert.equal(lone.kind, 'invalid');
  assert.match(lone.kind === 'invalid' ? lone.message : '', /lone surrogate/);
  const emptyBody = checkGuestResponse({ status: 204, headers: [], body: new Uint8Array(0) });
  assert.equal(emptyBody.kind, 'ok');
  assert.equal(emptyBody.kind === 'ok' ? emptyBody.body : 'x', undefined);
  const pair = checkGuestResponse({ status: 200, headers: [{ name: 'x', value: '😀' }], body: new Uint8Array([1]) });
  assert.equal(pair.kind, 'ok');
  assert.equal(Object.getPrototypeOf(pair.kind === 'ok' ? pair.headers : {}), null);
});
