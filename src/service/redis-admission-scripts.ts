/**
 * The Lua scripts behind RedisAdmission (redis-admission.ts): every decision about a tenant's
 * slots and queue is one script, so replicas deciding at the same moment cannot both take the last
 * slot. Per tenant, three sorted sets:
 *   slots — the holders (a token per admitted execution), scored by lease expiry (ms);
 *   queue — the waiters, scored by arrival (µs): the order they are admitted in;
 *   qexp  — the same waiters, scored by lease expiry (ms).
 * Times come from the Redis server (TIME), never from the replicas, so their clocks may differ.
 * A holder or waiter whose lease ran out (its process died, or stalled past the lease) is dropped
 * by the next script that touches the tenant. Scores are written with %.0f: Lua's own number to
 * string conversion keeps 14 digits, too few for microseconds.
 */

const PRELUDE = `
local function fmt(n) return string.format('%.0f', n) end
local function clock()
  local t = redis.call('TIME')
  local s, us = tonumber(t[1]), tonumber(t[2])
  return s * 1000 + math.floor(us / 1000), s * 1000000 + us
end
local function purge(slots, queue, qexp, nowMs)
  local n = redis.call('ZREMRANGEBYSCORE', slots, '-inf', nowMs)
  local gone = redis.call('ZRANGEBYSCORE', qexp, '-inf', nowMs)
  for i = 1, #gone do redis.call('ZREM', queue, gone[i]) end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', qexp, '-inf', nowMs) end
  return n + #gone
end
`;

/**
 * KEYS: slots, queue, qexp. ARGV: token, leaseMs, perTenant, tenantQueue, mayQueue (1/0), channel, tenant.
 * A slot only when one is free and nobody waits (FIFO: a newcomer does not pass the queue); else a
 * place in the queue, else 'busy' (429) — or 'overloaded' when this replica's global queue is full.
 * Slots free while others wait (their waiters have not claimed them yet, or missed the wake-up):
 * the wake-up is published again; 'queued_free' tells the caller to claim too.
 */
export const ACQUIRE = `${PRELUDE}
local nowMs, nowUs = clock()
purge(KEYS[1], KEYS[2], KEYS[3], nowMs)
local lease, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local running = redis.call('ZCARD', KEYS[1])
local waiting = redis.call('ZCARD', KEYS[2])
if running < limit and waiting == 0 then
  redis.call('ZADD', KEYS[1], fmt(nowMs + lease), ARGV[1])
  return 'admitted'
end
-- free slots and waiters that have not taken them: wake them again, they may have missed it
if running < limit then redis.call('PUBLISH', ARGV[6], ARGV[7]) end
if waiting >= tonumber(ARGV[4]) then return 'busy' end
if ARGV[5] ~= '1' then return 'overloaded' end
redis.call('ZADD', KEYS[2], fmt(nowUs), ARGV[1])
redis.call('ZADD', KEYS[3], fmt(nowMs + lease), ARGV[1])
if running < limit then return 'queued_free' end
return 'queued'
`;

/**
 * KEYS: slots, queue, qexp. ARGV: leaseMs, perTenant, tenantQueue, token... (one process's waiters).
 * The waiters among the first (free slots) of the queue take a slot; the others renew their lease.
 * A waiter no longer in the queue (its lease ran out while its process stalled) is queued again at
 * the end when there is room, else it is lost (the caller answers 429).
 * Returns { admitted tokens, requeued tokens, lost tokens }.
 */
export const CLAIM = `${PRELUDE}
local nowMs, nowUs = clock()
purge(KEYS[1], KEYS[2], KEYS[3], nowMs)
local lease, limit, queueLimit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local free = limit - redis.call('ZCARD', KEYS[1])
local head = {}
if free > 0 then
  local first = redis.call('ZRANGE', KEYS[2], 0, free - 1)
  for i = 1, #first do head[first[i]] = true end
end
local admitted, requeued, lost = {}, {}, {}
for i = 4, #ARGV do
  local token = ARGV[i]
  if head[token] then
    redis.call('ZREM', KEYS[2], token)
    redis.call('ZREM', KEYS[3], token)
    redis.call('ZADD', KEYS[1], fmt(nowMs + lease), token)
    admitted[#admitted + 1] = token
  elseif redis.call('ZSCORE', KEYS[2], token) then
    redis.call('ZADD', KEYS[3], fmt(nowMs + lease), token)
  elseif redis.call('ZCARD', KEYS[2]) < queueLimit then
    redis.call('ZADD', KEYS[2], fmt(nowUs), token)
    redis.call('ZADD', KEYS[3], fmt(nowMs + lease), token)
    requeued[#requeued + 1] = token
  else
    lost[#lost + 1] = token
  end
end
return { admitted, requeued, lost }
`;

/**
 * KEYS: slots, queue, qexp. ARGV: token, channel, tenant. A holder or waiter leaves (its execution
 * ended, or it gave up waiting); the waiters are woken when there are any.
 */
export const LEAVE = `
local n = redis.call('ZREM', KEYS[1], ARGV[1]) + redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('ZCARD', KEYS[2]) > 0 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return n
`;

/**
 * KEYS: slots, qexp. ARGV: leaseMs, token... (one process's holders and waiters of one tenant).
 * Extends their leases; returns the tokens found in neither set (their lease ran out before).
 */
export const RENEW = `${PRELUDE}
local nowMs = clock()
local expiry = fmt(nowMs + tonumber(ARGV[1]))
local lost = {}
for i = 2, #ARGV do
  local token = ARGV[i]
  if redis.call('ZSCORE', KEYS[1], token) then
    redis.call('ZADD', KEYS[1], expiry, token)
  elseif redis.call('ZSCORE', KEYS[2], token) then
    redis.call('ZADD', KEYS[2], expiry, token)
  else
    lost[#lost + 1] = token
  end
end
return lost
`;
