-- GET /v1/messages/:id, random ids from the dataset. Env: IDS (file), TOKEN.
package.path = "bench/?.lua;" .. package.path
local b = require("ids")
local ids = b.load(os.getenv("IDS"))
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/v1/messages/" .. ids[math.random(#ids)], b.headers)
end
response = b.check
