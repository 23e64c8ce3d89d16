package store

import "github.com/redis/go-redis/v9"

// Client sizes the connections of relay's Redis clients.
//
// Requests in flight each hold a connection for an admission or release
// round trip, so the pool is wide. Every command and reply relay exchanges
// is small (a usage batch is the largest write, and bufio writes through a
// full buffer), while go-redis gives each connection 32 KiB read and write
// buffers and each pipeline connection 128 KiB: at 64 connections that was
// most of an edge's live heap.
func Client(o *redis.Options) *redis.Client {
	o.PoolSize = 64
	o.ReadBufferSize = 8 << 10
	o.WriteBufferSize = 8 << 10
	o.PipelineReadBufferSize = 8 << 10
	o.PipelineWriteBufferSize = 8 << 10
	// Pipelines (lease release) share the main pool: a second pool of
	// connections would only hold more buffers.
	o.PipelinePoolSize = -1
	return redis.NewClient(o)
}
