-- GET /v1/conversations/:id, random ids from the dataset. Env: IDS (file), TOKEN, PREFIX.
package.path = "bench/?.lua;" .. package.path
local b = require("ids")
local ids = b.load(os.getenv("IDS"))
math.randomseed(os.time())
request = function()
  return wrk.format("GET", b.prefix .. "/v1/conversations/" .. ids[math.random(#ids)], b.headers)
end
response = b.check
