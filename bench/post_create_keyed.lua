-- POST /v1/posts as post_create.lua, each request with an Idempotency-Key of its own (a new
-- key every time: the cost of reserving and storing, never a replay). Env: IDS, TOKEN.
package.path = "bench/?.lua;" .. package.path
local b = require("ids")
local ids = b.load(os.getenv("IDS"))
local counter = 0
local prefix = nil

-- In the main Lua state: give every thread a number, so keys never repeat across threads.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

request = function()
  if prefix == nil then
    math.randomseed(os.time() + (thread_number or 0))
    prefix = "bench-" .. os.time() .. "-" .. (thread_number or 0) .. "-"
  end
  counter = counter + 1
  local body = '{"posts":{"conversation":"' .. ids[math.random(#ids)] ..
    '","notification":{"title":"Bench","body":"load"},"text":"bench post"}}'
  local headers = {}
  for k, v in pairs(b.headers) do headers[k] = v end
  headers["Idempotency-Key"] = prefix .. counter
  return wrk.format("POST", "/v1/posts", headers, body)
end
response = b.check
