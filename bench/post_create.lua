-- POST /v1/posts into random conversations of the dataset.
-- Env: IDS (conversation ids), TOKEN, PREFIX.
package.path = "bench/?.lua;" .. package.path
local b = require("ids")
local ids = b.load(os.getenv("IDS"))
math.randomseed(os.time())
request = function()
  local body = '{"posts":{"conversation":"' .. ids[math.random(#ids)] ..
    '","notification":{"title":"Bench","body":"load"},"text":"bench post"}}'
  return wrk.format("POST", b.prefix .. "/v1/posts", b.headers, body)
end
response = b.check
