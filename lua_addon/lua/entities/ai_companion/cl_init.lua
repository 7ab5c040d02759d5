include("shared.lua")

function ENT:Draw()
  self:DrawModel()
  local name = self:GetCompanionName()
  if not name or name == "" or not cam then return end
  local pos = self:GetPos() + Vector(0, 0, 80)
  local ang = LocalPlayer():EyeAngles()
  ang:RotateAroundAxis(ang:Forward(), 90)
  ang:RotateAroundAxis(ang:Right(), 90)
  cam.Start3D2D(pos, Angle(0, ang.y, 90), 0.25)
    draw.SimpleTextOutlined(name, "DermaLarge", 0, 0, Color(120, 200, 255), TEXT_ALIGN_CENTER,
      TEXT_ALIGN_CENTER, 1, Color(0, 0, 0))
  cam.End3D2D()
end
