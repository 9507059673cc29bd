"""The template store's Redis scripts: each changes several of its keys (``keys.py``) at
once, so no process ever sees half a change, and appends the event every process follows."""

# KEYS: current, history, the version's key, events, seeded. ARGV: name, version, now, versions
# kept, events kept, seed. Makes the version current and tells every process; a seed only if
# the folder has not brought this version before. Retires versions past the newest kept.
PUBLISH = """
if ARGV[6] == '1' then
  if redis.call('HGET', KEYS[5], ARGV[1]) == ARGV[2] then return 0 end
  redis.call('HSET', KEYS[5], ARGV[1], ARGV[2])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', 'kind', 'template', 'name', ARGV[1])
local prefix = string.sub(KEYS[3], 1, #KEYS[3] - #ARGV[2])
for _, old in ipairs(redis.call('ZRANGE', KEYS[2], 0, -tonumber(ARGV[4]) - 1)) do
  if old ~= ARGV[2] then
    for _, field in ipairs(redis.call('HKEYS', prefix .. old)) do
      if string.sub(field, 1, 2) == 'f:' then redis.call('HDEL', prefix .. old, field) end
    end
    redis.call('HSET', prefix .. old, 'retired_at', ARGV[3])
    redis.call('ZREM', KEYS[2], old)
  end
end
return 1
"""
# KEYS: current, events. ARGV: name, events kept.
DELETE = """
local version = redis.call('HGET', KEYS[1], ARGV[1])
if not version or version == '' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '')
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'kind', 'template', 'name', ARGV[1])
return 1
"""
# KEYS: current, history, the version's key, events. ARGV: name, version, now, events kept.
# Retires a kept version that is not the current one (1; 0 not kept, -1 current) and tells
# every process.
RETIRE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return -1 end
if not redis.call('ZSCORE', KEYS[2], ARGV[2]) then return 0 end
for _, field in ipairs(redis.call('HKEYS', KEYS[3])) do
  if string.sub(field, 1, 2) == 'f:' then redis.call('HDEL', KEYS[3], field) end
end
redis.call('HSET', KEYS[3], 'retired_at', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'kind', 'retired', 'name', ARGV[1],
  'version', ARGV[2])
return 1
"""
