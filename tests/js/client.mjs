// One official supabase-js client, driven by pytest (tests/realtime_js_support.py) through stdin/stdout.
//
// argv[2] is a JSON object: {url, anonKey, token, vsn?, accessToken?: true, heartbeatIntervalMs?}.
// With accessToken: true, the client is built with supabase-js's `accessToken` callback returning the
// current token (changed by {op: "token"}); otherwise the token is set with realtime.setAuth(token).
// Commands (one JSON object per stdin line):
//   {op: "subscribe", name, topic, private?, self?, ack?, presenceKey?, replay?}
//   {op: "send", name, event, payload}          client broadcast (binary frame under vsn 2.0.0)
//   {op: "track", name, payload} | {op: "untrack", name}
//   {op: "token", token}                       new token (setAuth, or what accessToken returns)
//   {op: "unsubscribe", name} | {op: "drop"}  (drop: abort the socket, no close frame) | {op: "exit"}
// Output (one JSON object per stdout line): {type: "status", name, status, error?}, {type: "broadcast", name,
// event, payload, meta}, {type: "presence", name, event, key?, state}, {type: "reply", op, name, result},
// {type: "system", name, payload}. The client does no replay bookkeeping of its own: the channel keeps
// the join parameters it was created with.
import { createClient } from '@supabase/supabase-js'
import readline from 'node:readline'
import WebSocket from 'ws'

const options = JSON.parse(process.argv[2])
let token = options.token
const emit = (object) => process.stdout.write(JSON.stringify(object) + '\n')

const clientOptions = {
  realtime: {
    // Node 20 has no global WebSocket: supabase-js's documented way is to pass the ws package.
    ...(typeof globalThis.WebSocket === 'undefined' ? { transport: WebSocket } : {}),
    ...(options.vsn ? { vsn: options.vsn } : {}),
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 5000,
    reconnectAfterMs: () => 200,
    timeout: 5000,
  },
  auth: { persistSession: false, autoRefreshToken: false },
}
if (options.accessToken) clientOptions.accessToken = async () => token
const supabase = createClient(options.url, options.anonKey, clientOptions)
if (!options.accessToken) supabase.realtime.setAuth(token)

const channels = new Map()

function subscribe(command) {
  const config = {
    private: command.private ?? true,
    broadcast: { self: command.self ?? false, ack: command.ack ?? false },
  }
  if (command.replay) config.broadcast.replay = command.replay
  if (command.presenceKey !== undefined) config.presence = { key: command.presenceKey, enabled: true }
  const channel = supabase.channel(command.topic, { config })
  channel.on('broadcast', { event: '*' }, (message) =>
    emit({ type: 'broadcast', name: command.name, event: message.event, payload: message.payload, meta: message.meta ?? null }))
  channel.on('system', {}, (payload) => emit({ type: 'system', name: command.name, payload }))
  if (command.presenceKey !== undefined) {
    for (const event of ['sync', 'join', 'leave']) {
      channel.on('presence', { event }, (info) =>
        emit({ type: 'presence', name: command.name, event, key: info?.key ?? null, state: channel.presenceState() }))
    }
  }
  channel.subscribe((status, error) =>
    emit({ type: 'status', name: command.name, status, error: error ? String(error.message ?? error) : null }))
  channels.set(command.name, channel)
}

async function handle(command) {
  const channel = channels.get(command.name)
  switch (command.op) {
    case 'subscribe':
      return subscribe(command)
    case 'send': {
      const result = await channel.send({ type: 'broadcast', event: command.event, payload: command.payload })
      return emit({ type: 'reply', op: 'send', name: command.name, result })
    }
    case 'track':
      return emit({ type: 'reply', op: 'track', name: command.name, result: await channel.track(command.payload) })
    case 'untrack':
      return emit({ type: 'reply', op: 'untrack', name: command.name, result: await channel.untrack() })
    case 'token':
      token = command.token
      await supabase.realtime.setAuth(options.accessToken ? undefined : token)
      return emit({ type: 'reply', op: 'token', result: 'ok' })
    case 'unsubscribe':
      return emit({ type: 'reply', op: 'unsubscribe', name: command.name, result: await channel.unsubscribe() })
    case 'drop': {
      // A network drop: the TCP connection goes away without a WebSocket close frame.
      const conn = supabase.realtime.socketAdapter?.socket?.conn ?? supabase.realtime.conn
      const socket = conn?._socket ?? conn?._ws?._socket
      if (socket?.destroy) socket.destroy()
      else if (conn?.terminate) conn.terminate()
      else conn?.close(4000, 'drop')
      return emit({ type: 'reply', op: 'drop', result: socket?.destroy ? 'destroyed' : 'closed' })
    }
    case 'exit':
      await supabase.removeAllChannels()
      supabase.realtime.disconnect()
      return process.exit(0)
    default:
      return emit({ type: 'error', error: `unknown op ${command.op}` })
  }
}

const input = readline.createInterface({ input: process.stdin })
let queue = Promise.resolve()
input.on('line', (line) => {
  if (!line.trim()) return
  queue = queue.then(() => handle(JSON.parse(line))).catch((error) => emit({ type: 'error', error: String(error?.stack ?? error) }))
})
input.on('close', () => process.exit(0))
emit({ type: 'ready', vsn: supabase.realtime.vsn ?? null })
