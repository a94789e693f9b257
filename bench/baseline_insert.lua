-- The baseline's single-row insert (bench/baseline.py).
package.path = "bench/?.lua;" .. package.path
local b = require("ids")
request = function()
  return wrk.format("POST", "/insert", b.headers, '{"text":"bench post"}')
end
response = b.check
