"""Vocabularies for plausible Chinese names: people, enterprise trade names (字号), industry words,
shops of individual businesses, cooperatives, roads.

Enterprise names follow 《企业名称登记管理规定》: 行政区划 + 字号 + 行业或经营特点 + 组织形式,
e.g. 合肥瑞丰机械设备有限公司. Individual businesses (个体工商户) are named after the place and the
keeper, e.g. 蜀山区张记餐馆; cooperatives after the place and the produce, e.g.
长丰县丰收草莓种植专业合作社. Everything here is invented; any likeness to a real firm is chance.
"""

from __future__ import annotations

from typing import Final

import numpy as np

# The most common surnames with rough relative frequencies (a few percent each for the top ones),
# so that 王/李/张 dominate as they do in any Chinese name list.
SURNAMES: Final = (
    ("王", 7.1), ("李", 7.0), ("张", 6.8), ("刘", 5.4), ("陈", 4.6), ("杨", 3.1), ("黄", 2.5),
    ("赵", 2.3), ("吴", 2.1), ("周", 2.1), ("徐", 1.7), ("孙", 1.5), ("马", 1.5), ("朱", 1.3),
    ("胡", 1.3), ("郭", 1.2), ("何", 1.2), ("高", 1.1), ("林", 1.1), ("罗", 0.9), ("郑", 0.9),
    ("梁", 0.8), ("谢", 0.8), ("宋", 0.7), ("唐", 0.7), ("许", 0.7), ("韩", 0.7), ("冯", 0.6),
    ("邓", 0.6), ("曹", 0.6), ("彭", 0.6), ("曾", 0.5), ("肖", 0.5), ("田", 0.5), ("董", 0.5),
    ("袁", 0.5), ("潘", 0.5), ("于", 0.5), ("蒋", 0.5), ("蔡", 0.5), ("余", 0.5), ("杜", 0.4),
    ("叶", 0.4), ("程", 0.4), ("苏", 0.4), ("魏", 0.4), ("吕", 0.4), ("丁", 0.4), ("任", 0.4),
    ("沈", 0.3), ("姚", 0.3), ("卢", 0.3), ("姜", 0.3), ("崔", 0.3), ("钟", 0.3), ("谭", 0.3),
    ("陆", 0.3), ("汪", 0.4), ("范", 0.3), ("金", 0.3), ("石", 0.3), ("廖", 0.2), ("贾", 0.2),
    ("夏", 0.2), ("韦", 0.2), ("方", 0.3), ("白", 0.2), ("邹", 0.2), ("孟", 0.2), ("熊", 0.2),
    ("秦", 0.2), ("邱", 0.2), ("江", 0.2), ("尹", 0.2), ("薛", 0.2), ("闫", 0.2), ("段", 0.2),
    ("雷", 0.2), ("侯", 0.2), ("龙", 0.2), ("史", 0.2), ("陶", 0.2), ("黎", 0.2), ("贺", 0.2),
    ("葛", 0.2), ("储", 0.1), ("檀", 0.05), ("操", 0.05), ("査", 0.05), ("桂", 0.1), ("鲍", 0.1),
)  # fmt: skip

GIVEN_CHARS: Final = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌海波辉鹏宇飞浩"
    "俊峰云凤春晓燕雪梅琳丹晨阳欣怡佳慧婷倩颖子涵宏亮成林杨帆建华永胜德福庆松柏新民"
    "长青家乐卫东学军振兴晓东海燕金凤立新光明玉珍丽君文静"
)

ZIHAO_CHARS: Final = tuple(
    "瑞丰鑫源华泰恒达兴隆盛昌宏远博创嘉信德诚利通汇聚金宝福祥和安康鼎晟益佳美新明光辉"
    "阳晨天宇海润泽江淮徽皖山林森峰云星辰凯越卓众合同联正方圆永久长青绿蓝尚品优精科智"
    "能腾飞扬帆航启元初君悦雅韵诺思睿哲奥特斯克伦维亿万千佰仟顺发荣富贵旺东南西北中"
    "国泰民安家乐福满春秋冠豪杰英才俊雄伟力强劲锦绣煜炜焱森淼鹏程璟琪瑜璐"
)

# Words for 行业或经营特点, by GB/T 4754-2017 division (大类).
INDUSTRY_WORDS: Final[dict[str, tuple[str, ...]]] = {
    "01": ("农业科技", "生态农业", "种植"), "02": ("林业", "苗木"), "03": ("畜牧", "养殖"),
    "04": ("水产", "渔业"), "05": ("农业服务", "农机服务"),
    "06": ("矿业",), "08": ("矿业",), "09": ("矿业",), "10": ("石材", "矿业"),
    "13": ("食品", "粮油", "农副产品"), "14": ("食品", "食品科技"), "15": ("酒业", "茶业", "饮品"),
    "17": ("纺织",), "18": ("服饰", "服装"), "19": ("鞋业", "皮革制品"), "20": ("木业",),
    "21": ("家具",), "22": ("纸业", "包装材料"), "23": ("印务", "包装印刷"), "24": ("文体用品",),
    "25": ("能源",), "26": ("化工", "新材料"), "27": ("药业", "医药科技"), "28": ("化纤",),
    "29": ("塑业", "橡塑制品"), "30": ("建材", "新型建材"), "31": ("钢铁", "特钢"),
    "32": ("铜业", "铝业"), "33": ("金属制品", "五金"), "34": ("机械", "机械设备"),
    "35": ("装备", "专用设备"), "36": ("汽车零部件", "汽车部件"), "37": ("装备制造",),
    "38": ("电气", "电器", "新能源科技"), "39": ("电子", "电子科技", "光电"),
    "40": ("仪器仪表",), "41": ("工艺品",), "42": ("再生资源",), "43": ("设备维修",),
    "44": ("新能源", "电力"), "45": ("燃气",), "46": ("水务",),
    "47": ("建筑工程", "建设"), "48": ("路桥工程", "市政工程"), "49": ("安装工程", "机电安装"),
    "50": ("装饰工程", "建筑装饰"),
    "51": ("贸易", "商贸", "供应链"), "52": ("商贸", "超市", "百货"),
    "54": ("物流", "运输"), "55": ("航运",), "58": ("国际货运代理", "物流"), "59": ("仓储",),
    "60": ("快递",),
    "61": ("酒店", "宾馆"), "62": ("餐饮管理", "餐饮"),
    "63": ("通信技术",), "64": ("网络科技",), "65": ("软件", "信息技术", "数据科技"),
    "70": ("房地产开发", "置业", "物业管理"),
    "71": ("租赁", "设备租赁"), "72": ("企业管理咨询", "人力资源", "广告", "会展服务"),
    "73": ("科技研究",), "74": ("检测技术", "工程设计", "勘察设计"), "75": ("科技", "技术服务"),
    "76": ("水利工程",), "77": ("环保科技",), "78": ("园林绿化", "环境工程"),
    "80": ("家政服务", "保洁服务"), "81": ("汽车维修", "家电维修"), "82": ("洗涤服务",),
    "83": ("教育科技", "培训"), "84": ("医疗管理",), "85": ("养老服务",),
    "86": ("文化传媒",), "87": ("影视文化",), "88": ("文化艺术",), "89": ("体育文化",),
    "90": ("娱乐",),
}  # fmt: skip

# Shop words of individual businesses, by section.
SHOP_WORDS: Final[dict[str, tuple[str, ...]]] = {
    "A": ("家庭农场", "养殖场", "种植园"),
    "C": ("加工厂", "豆制品坊", "食品加工坊", "门窗加工部"),
    "E": ("装修队", "水电安装部"),
    "F": ("便利店", "超市", "五金店", "建材店", "日用品店", "服装店", "水果店", "烟酒店", "粮油店"),
    "G": ("货运部", "搬家服务部"),
    "H": ("餐馆", "小吃店", "面馆", "饭店", "早餐店", "快餐店", "烧烤店"),
    "I": ("电脑维修部", "图文设计部"),
    "L": ("广告部", "家政服务部"),
    "O": ("理发店", "美容美发店", "洗衣店", "汽车修理部", "家电维修部", "摄影部"),
    "R": ("棋牌室", "文化用品店"),
}

COOP_PRODUCE: Final = (
    ("水稻", "种植"), ("蔬菜", "种植"), ("茶叶", "种植"), ("草莓", "种植"), ("葡萄", "种植"),
    ("中药材", "种植"), ("苗木", "种植"), ("水产", "养殖"), ("生猪", "养殖"), ("家禽", "养殖"),
    ("小龙虾", "养殖"), ("农机", "服务"),
)  # fmt: skip

ROADS: Final = (
    "长江路",
    "黄山路",
    "淮河路",
    "徽州大道",
    "金寨路",
    "望江路",
    "芜湖路",
    "宿松路",
    "马鞍山路",
    "合作化路",
    "潜山路",
    "繁华大道",
    "锦绣大道",
    "创新大道",
    "科学大道",
    "文化路",
    "人民路",
    "解放路",
    "建设路",
    "中山路",
    "和平路",
    "胜利路",
    "健康路",
    "光明路",
    "新华路",
    "迎宾大道",
    "工业园路",
    "经开大道",
    "高新路",
    "振兴路",
    "富强路",
    "幸福路",
    "东风路",
    "青年路",
    "花园路",
    "滨河路",
    "学府路",
    "开发区大道",
    "九华山路",
    "天柱山路",
)


def pick(rng: np.random.Generator, choices: tuple[str, ...], n: int) -> np.ndarray:
    """``n`` uniform draws from ``choices`` as a numpy string array."""
    return np.asarray(choices)[rng.integers(0, len(choices), n)]


def surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    table = np.asarray([s for s, _ in SURNAMES])
    weights = np.asarray([w for _, w in SURNAMES])
    return table[rng.choice(len(table), size=n, p=weights / weights.sum())]


def person_names(rng: np.random.Generator, family: np.ndarray) -> list[str]:
    """Full names for the given surnames: a one- or (mostly) two-character given name."""
    n = len(family)
    first = pick(rng, GIVEN_CHARS, n)
    second = pick(rng, GIVEN_CHARS, n)
    two = rng.random(n) < 0.7
    return [
        f + a + (b if t else "")
        for f, a, b, t in zip(
            family.tolist(), first.tolist(), second.tolist(), two.tolist(), strict=True
        )
    ]


def trade_names(rng: np.random.Generator, n: int) -> list[str]:
    """Two-character 字号 such as 瑞丰, 鑫源 (never the same character twice)."""
    first = rng.integers(0, len(ZIHAO_CHARS), n)
    step = rng.integers(1, len(ZIHAO_CHARS), n)
    second = (first + step) % len(ZIHAO_CHARS)
    chars = np.asarray(ZIHAO_CHARS)
    return [a + b for a, b in zip(chars[first].tolist(), chars[second].tolist(), strict=True)]


def short_place(name: str) -> str:
    """合肥市 → 合肥, 肥西县 → 肥西, 蜀山区 → 蜀山; names that would lose meaning stay whole."""
    for suffix in ("市", "县", "区"):
        if name.endswith(suffix) and len(name) > 2:
            return name[: -len(suffix)]
    return name
