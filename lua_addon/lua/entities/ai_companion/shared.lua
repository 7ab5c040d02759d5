ENT.Base = "base_nextbot"
ENT.Type = "nextbot"
ENT.PrintName = "AI Companion"
ENT.Author = "AI Encounters"
ENT.Spawnable = false
ENT.AdminOnly = true

function ENT:SetupDataTables()
  self:NetworkVar("String", 0, "CompanionName")
  self:NetworkVar("String", 1, "SessionId")
end
