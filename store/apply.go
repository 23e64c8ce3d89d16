package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Op is one Redis write of a projection. Ops are applied by one script
// together with the projection's checkpoint, all or nothing. HMAX and HMIN
// keep the larger (smaller) of a hash field and a number; HINCRBYM is
// HINCRBY of several fields of one hash: key f1 n1 f2 n2 ...
type Op struct {
	Cmd  string // SET, DEL, HSET, HINCRBY, HINCRBYM, HMAX, HMIN, ZADD, ZREM, SADD, SREM, EXPIRE, PEXPIREAT
	Args []any  // the key first, then the command's arguments
}

// applyScript applies a batch of ops unless the event at ARGV[1] was already
// applied. The checkpoint is a watermark (every sequence at or below it is
// applied) plus a set of sequences above it applied out of order, which lets
// several workers share one consumer: whatever order redeliveries come in,
// each sequence is applied exactly once. Keys are passed in ARGV because the
// set of keys depends on the event; relay targets a single Redis, not Cluster.
//
// ARGV[2], when not empty, is the generation the keys belong to: the script
// writes nothing and returns -1 unless the generation pointer (KEYS[3])
// still names it, so a write prepared before `relay rebuild` switched
// generations never lands in either.
var applyScript = redis.NewScript(`
if ARGV[2] ~= '' and (redis.call('GET', KEYS[3]) or '0') ~= ARGV[2] then
  return -1
end
local seqs = {}
for v in string.gmatch(ARGV[1], '[^,]+') do seqs[#seqs + 1] = v end
local wm = tonumber(redis.call('GET', KEYS[1]) or '0')
for _, v in ipairs(seqs) do
  if tonumber(v) <= wm or redis.call('SISMEMBER', KEYS[2], v) == 1 then
    return 0
  end
end
local i = 3
local n = #ARGV
while i <= n do
  local cmd = ARGV[i]
  local argc = tonumber(ARGV[i+1])
  local args = {}
  for j = 1, argc do args[j] = ARGV[i+1+j] end
  if cmd == 'HMAX' then
    local cur = tonumber(redis.call('HGET', args[1], args[2]) or '-1')
    if tonumber(args[3]) > cur then redis.call('HSET', args[1], args[2], args[3]) end
  elseif cmd == 'HMIN' then
    local cur = redis.call('HGET', args[1], args[2])
    if not cur or tonumber(args[3]) < tonumber(cur) then redis.call('HSET', args[1], args[2], args[3]) end
  elseif cmd == 'HINCRBYM' then
    for j = 2, argc - 1, 2 do redis.call('HINCRBY', args[1], args[j], args[j+1]) end
  elseif cmd == 'SET' or cmd == 'DEL' or cmd == 'HSET' or cmd == 'HINCRBY' or cmd == 'HDEL'
      or cmd == 'ZADD' or cmd == 'ZREM' or cmd == 'SADD' or cmd == 'SREM' or cmd == 'EXPIRE'
      or cmd == 'PEXPIREAT' then
    redis.call(cmd, unpack(args))
  else
    return redis.error_reply('store: op not allowed: ' .. cmd)
  end
  i = i + 2 + argc
end
for _, v in ipairs(seqs) do redis.call('SADD', KEYS[2], v) end
local moved = wm
while redis.call('SREM', KEYS[2], tostring(wm + 1)) == 1 do wm = wm + 1 end
if wm ~= moved then redis.call('SET', KEYS[1], wm) end
return 1
`)

// Apply performs ops for the event at seq of projection, atomically with the
// projection's checkpoint. It reports false when seq was applied before, in
// which case nothing was written.
//
// A store following the live generation returns ErrGenerationMoved, having
// written nothing, when ops were prepared for another generation or the
// generation switched meanwhile: the caller prepares them again.
func (s *Store) Apply(ctx context.Context, projection string, seq uint64, ops []Op) (bool, error) {
	return s.ApplyBatch(ctx, projection, []uint64{seq}, ops)
}

// ApplyBatch performs ops, the merged writes of the events at seqs, atomically
// with the projection's checkpoint: all of them or none. It reports false,
// having written nothing, when any of seqs was applied before; the caller
// then applies the events one by one. Only events whose writes commute may
// be merged (counters, maxima), and seqs must be distinct.
func (s *Store) ApplyBatch(ctx context.Context, projection string, seqs []uint64, ops []Op) (bool, error) {
	if len(seqs) == 0 {
		return false, fmt.Errorf("store: apply %s: no sequence", projection)
	}
	seqList := make([]byte, 0, len(seqs)*8)
	for i, seq := range seqs {
		if i > 0 {
			seqList = append(seqList, ',')
		}
		seqList = strconv.AppendUint(seqList, seq, 10)
	}
	seq := seqs[0]
	v := s.view() // one generation for the checkpoint and the check
	gen := ""
	if s.follow != nil {
		if err := s.ownsOps(v, ops); err != nil {
			return false, err
		}
		gen = strconv.FormatUint(v.n, 10)
	}
	argv := make([]any, 0, 2+len(ops)*4)
	argv = append(argv, string(seqList), gen)
	for _, op := range ops {
		argv = append(argv, op.Cmd, len(op.Args))
		argv = append(argv, op.Args...)
	}
	keys := []string{checkpointKey(v.prefix, projection), pendingKey(v.prefix, projection), s.genPointer()}
	n, err := applyScript.Run(ctx, s.rdb, keys, argv...).Int()
	if err != nil {
		return false, fmt.Errorf("store: apply %s@%d: %w", projection, seq, err)
	}
	if n < 0 {
		_ = s.Refresh(ctx) // the retry uses the live generation
		return false, fmt.Errorf("store: apply %s@%d: %w", projection, seq, ErrGenerationMoved)
	}
	return n == 1, nil
}
