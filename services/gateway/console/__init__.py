"""The bureau console 医保局工作台: server-rendered pages for ops staff over the services' own APIs."""
