-- Shared by the load scripts: each wrk thread gets a number (0, 1, ...) and reads its own slice of a file.
local common = {}

local next_id = 0
function common.number_threads(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
end

-- The lines of `path` that belong to thread `id` of `threads` (round-robin), as a list.
function common.slice(path, id, threads)
   local lines, n = {}, 0
   local file = assert(io.open(path, "r"), "cannot read " .. path)
   for line in file:lines() do
      if line ~= "" then
         if n % threads == id then lines[#lines + 1] = line end
         n = n + 1
      end
   end
   file:close()
   return lines
end

return common
