"""The national interface (国家医疗保障信息平台 定点医药机构接口): one envelope, translated to the services' APIs."""
