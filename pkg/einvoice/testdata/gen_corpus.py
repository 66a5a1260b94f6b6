import json, copy
A="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
def cd(g14):
    s=0
    for i,c in enumerate(g14):
        p=A.index(c)*(1+i%2); s+=p//36+p%36
    return g14+A[(36-s%36)%36]
SEZ_BUYER=cd("33AABCS1429B1Z")   # Tamil Nadu
DEXP_BUYER=cd("27AABCD1234E1Z")  # Maharashtra
def r2(x): return round(x+1e-9,2)
def item(sl, hsn, qty, price, rate, mode, servc=False, disc=0.0, ces=0.0, oth=0.0):
    tot=r2(qty*price) if qty else price
    ass=r2(tot-disc)
    it={"SlNo":str(sl),"PrdDesc":"Item %d"%sl,"IsServc":"Y" if servc else "N","HsnCd":hsn}
    if not servc: it.update({"Qty":qty,"Unit":"NOS"})
    it.update({"UnitPrice":price,"TotAmt":tot})
    if disc: it["Discount"]=disc
    it.update({"AssAmt":ass,"GstRt":rate})
    ig=cg=sg=0.0
    if mode=="igst": ig=r2(ass*rate/100)
    elif mode=="cgst": cg=sg=r2(ass*rate/200)
    it.update({"IgstAmt":ig,"CgstAmt":cg,"SgstAmt":sg})
    if ces: it.update({"CesRt":ces,"CesAmt":r2(ass*ces/100)})
    if oth: it["OthChrg"]=oth
    it["TotItemVal"]=r2(ass+ig+cg+sg+it.get("CesAmt",0)+oth)
    return it
def vals(items, tax=True):
    s=lambda k: r2(sum(i.get(k,0) for i in items))
    v={"AssVal":s("AssAmt"),"CgstVal":s("CgstAmt"),"SgstVal":s("SgstAmt"),"IgstVal":s("IgstAmt"),"CesVal":s("CesAmt"),"StCesVal":0,"Discount":0,"OthChrg":0,"RndOffAmt":0}
    v["TotInvVal"]=r2(s("TotItemVal"))
    return v
def party(g,nm,stcd,pin,loc="Bengaluru"):
    return {"Gstin":g,"LglNm":nm,"TrdNm":nm,"Addr1":"12 Main Road","Addr2":"Industrial Area","Loc":loc,"Pin":pin,"Stcd":stcd,"Ph":"9876543210","Em":"accounts@example.com"}
def doc(sup, typ, no, dt, seller, buyer, items, **kw):
    d={"Version":"1.1","TranDtls":{"TaxSch":"GST","SupTyp":sup,"RegRev":"N","IgstOnIntra":"N"},
       "DocDtls":{"Typ":typ,"No":no,"Dt":dt},"SellerDtls":seller,"BuyerDtls":buyer,"ItemList":items,"ValDtls":vals(items)}
    d.update(kw); return d
KA=party("29AWGPV7107B1Z1","Karnataka Traders Pvt Ltd","29",560001)
KA_B=dict(party("29AAACP7879D1Z0","Bengaluru Buyers Ltd","29",560034),Pos="29")
AP=party("37ARZPT4384Q1MT","Andhra Sellers Ltd","37",520001,"Vijayawada")
UP_B=dict(party("09AAJCM7191E1Z5","Noida Buyers Ltd","09",201301,"Noida"),Pos="09")
GJ=party("24AAUPV7468F1ZW","Gujarat Services LLP","24",380001,"Ahmedabad")
AP_B=dict(party("37AABCA7365E2ZP","Andhra Buyers Ltd","37",520002,"Vijayawada"),Pos="37")
MH=party("27AAAPI3182M002","Mumbai Exports Pvt Ltd","27",400001,"Mumbai")
TN_SEZ=dict(party(SEZ_BUYER,"Chennai SEZ Unit Ltd","33",600032,"Chennai"),Pos="33")
MH_DEXP=dict(party(DEXP_BUYER,"Pune EOU Ltd","27",411001,"Pune"),Pos="27")
FOREIGN={"Gstin":"URP","LglNm":"Acme Inc","Pos":"96","Addr1":"1 Market Street","Loc":"San Francisco","Pin":999999,"Stcd":"96"}
prec={"PrecDocDtls":[{"InvNo":"KT/2024/0101","InvDt":"02/12/2024"}]}
ewb_road={"TransId":"05AAACG2115R1ZN","TransName":"Fast Movers","TransMode":"1","Distance":0,"VehNo":"KA01AB1234","VehType":"R"}
port_ship={"LglNm":"JNPT Port","Addr1":"Nhava Sheva Port","Loc":"Navi Mumbai","Pin":400707,"Stcd":"27"}
out={}
out["b2b_intra_goods_inv"]=doc("B2B","INV","KT/2024/0101","02/12/2024",KA,KA_B,[item(1,"84713010",2,45000,18,"cgst",disc=500),item(2,"85176290",10,1250.5,12,"cgst")])
out["b2b_inter_goods_ewb_inv"]=doc("B2B","INV","APS-00067","10/12/2024",AP,UP_B,[item(1,"73181500",100,12.5,18,"igst"),item(2,"40169990",40,99.99,28,"igst",ces=12),item(3,"3923",5,10,5,"igst")],
    DispDtls={"Nm":"Andhra Sellers Warehouse","Addr1":"Plot 7","Loc":"Guntur","Pin":522001,"Stcd":"37"},
    ShipDtls={"Gstin":"09AAJCM7191E1Z5","LglNm":"Noida Buyers Ltd","Addr1":"Sector 62","Loc":"Noida","Pin":201309,"Stcd":"09"},
    EwbDtls=ewb_road)
out["b2b_inter_services_inv"]=doc("B2B","INV","gs-2024-9","11/12/2024",GJ,AP_B,[item(1,"998314",0,150000,18,"igst",servc=True),item(2,"998313",0,20000,18,"igst",servc=True)],
    PayDtls={"Nm":"Andhra Buyers Ltd","AccDet":"5697389713210","Mode":"Cash","FinInsBr":"SBIN11000","PayTerm":"100","CrDay":30,"PaidAmt":0,"PaymtDue":100000},
    RefDtls={"InvRm":"Consulting for December","DocPerdDtls":{"InvStDt":"01/12/2024","InvEndDt":"31/12/2024"},"ContrDtls":[{"PORefr":"PO-7781","PORefDt":"15/11/2024"}]},
    AddlDocDtls=[{"Url":"https://example.com/timesheet","Info":"Timesheet"}])
out["b2b_intra_crn"]=doc("B2B","CRN","CN/2024/7","05/12/2024",KA,KA_B,[item(1,"84713010",1,45000,18,"cgst")],RefDtls=prec)
out["b2b_inter_dbn"]=doc("B2B","DBN","DN-14","12/12/2024",AP,UP_B,[item(1,"73181500",10,12.5,18,"igst")],RefDtls={"PrecDocDtls":[{"InvNo":"APS-00067","InvDt":"10/12/2024","OthRefNo":"Rate diff"}]})
out["sezwp_inv"]=doc("SEZWP","INV","SZ-1001","09/12/2024",KA,TN_SEZ,[item(1,"85044090",20,3200,18,"igst")])
out["sezwop_inv"]=doc("SEZWOP","INV","SZ-1002","09/12/2024",KA,TN_SEZ,[item(1,"85044090",20,3200,18,"none")])
out["expwp_ewb_inv"]=doc("EXPWP","INV","EXP/24/001","13/12/2024",MH,FOREIGN,[item(1,"62052000",500,410,5,"igst"),item(2,"62034200",300,520,12,"igst")],
    ShipDtls=port_ship,ExpDtls={"ShipBNo":"8765432","ShipBDt":"14/12/2024","Port":"INNSA1","RefClm":"N","ForCur":"USD","CntCode":"US","ExpDuty":0},
    EwbDtls={"TransId":"05AAACG2115R1ZN","TransMode":"1","Distance":35,"VehNo":"MH04AB1234","VehType":"R"})
out["expwop_inv"]=doc("EXPWOP","INV","EXP/24/002","13/12/2024",MH,FOREIGN,[item(1,"62052000",500,410,5,"none")],
    ExpDtls={"Port":"INBOM4","ForCur":"EUR","CntCode":"DE"})
out["dexp_inv"]=doc("DEXP","INV","DX-55","12/12/2024",KA,MH_DEXP,[item(1,"84818090",4,7800,18,"igst")])
out["b2b_igst_on_intra_inv"]=doc("B2B","INV","IOI-1","12/12/2024",KA,KA_B,[item(1,"84713010",1,30000,18,"igst")])
out["b2b_igst_on_intra_inv"]["TranDtls"]["IgstOnIntra"]="Y"
out["b2b_reverse_charge_inv"]=doc("B2B","INV","RC-9","12/12/2024",GJ,AP_B,[item(1,"996511",0,25000,5,"igst",servc=True)])
out["b2b_reverse_charge_inv"]["TranDtls"]["RegRev"]="Y"
out["b2b_minimal_inv"]={"Version":"1.1","TranDtls":{"TaxSch":"GST","SupTyp":"b2b"},"DocDtls":{"Typ":"inv","No":"9sQ5E2","Dt":"02/10/2023"},
  "SellerDtls":{"Gstin":"02AMBPG7773M002","LglNm":"Himachal Goods","Addr1":"Mall Road","Loc":"Shimla","Pin":171001,"Stcd":"2"},
  "BuyerDtls":{"Gstin":"36AMBPG7773M002","LglNm":"Hyderabad Buyer","Pos":"36","Addr1":"Banjara Hills","Loc":"Hyderabad","Pin":500034,"Stcd":"36"},
  "ItemList":[{"SlNo":"1","IsServc":"N","HsnCd":"1001","Qty":1,"Unit":"KGS","UnitPrice":100,"TotAmt":100,"AssAmt":100,"GstRt":5,"IgstAmt":5,"TotItemVal":105}],
  "ValDtls":{"AssVal":100,"IgstVal":5,"TotInvVal":105}}
for k,v in out.items():
    json.dump(v,open("valid/%s.json"%k,"w"),indent=2)
print(SEZ_BUYER, DEXP_BUYER)
