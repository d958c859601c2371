"""The framework's ceiling here: a bare FastAPI endpoint that validates a small body."""

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Hello(BaseModel):
    name: str = "world"


@app.post("/hello")
async def hello(body: Hello) -> dict[str, str]:
    return {"hello": body.name}


@app.get("/livez")
async def livez() -> dict[str, str]:
    return {"status": "up"}
