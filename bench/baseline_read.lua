-- The baseline's primary-key read of a dataset conversation (bench/baseline.py). Env: IDS.
package.path = "bench/?.lua;" .. package.path
local b = require("ids")
local ids = b.load(os.getenv("IDS"))
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/read/" .. ids[math.random(#ids)], b.headers)
end
response = b.check
